package io.inferstream.jobs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.schema.InferenceResult;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/** Asserts that results hold every expected id exactly once. */
public final class ExactlyOnce {
    private ExactlyOnce() {
    }

    public static void assertEachIdOnce(Collection<String> expected, List<InferenceResult> results, String where) {
        Map<String, Long> counts = results.stream().collect(Collectors.groupingBy(InferenceResult::getId, Collectors.counting()));
        List<String> duplicated = counts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey)
                .sorted().collect(Collectors.toList());
        assertTrue(duplicated.isEmpty(), where + " has " + duplicated.size() + " duplicated ids, e.g. "
                + duplicated.stream().limit(5).collect(Collectors.toList()));
        Set<String> missing = new HashSet<>(expected);
        missing.removeAll(counts.keySet());
        assertTrue(missing.isEmpty(), where + " misses " + missing.size() + " ids, e.g. "
                + missing.stream().limit(5).collect(Collectors.toList()));
        assertEquals(new HashSet<>(expected), counts.keySet(), where + " has unexpected ids");
    }
}
