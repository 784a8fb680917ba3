package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A submitted job's relative paths are taken from where submit runs, not from the JobManager's working folder. */
class ClusterPathsTest {
    private static final String HERE = Path.of("").toAbsolutePath().toString();

    @Test
    void relativePathsOfTheModelOutputAndCacheBecomeAbsoluteInBothForms() {
        List<String> said = new ArrayList<>();
        List<String> args = ClusterPaths.absolute(List.of("--bootstrap-servers", "k:9092", "--model", "models/m.gguf",
                "--output=out/results", "--cache-dir", "./cache", "--max-new-tokens", "4"), said::add);
        assertEquals(List.of("--bootstrap-servers", "k:9092", "--model", HERE + "/models/m.gguf",
                "--output=" + HERE + "/out/results", "--cache-dir", HERE + "/cache", "--max-new-tokens", "4"), args);
        assertEquals(List.of("--model models/m.gguf is taken from here: " + HERE + "/models/m.gguf",
                "--output out/results is taken from here: " + HERE + "/out/results",
                "--cache-dir ./cache is taken from here: " + HERE + "/cache"), said);
    }

    @Test
    void specsUrisAbsolutePathsAndNoneAreLeftAlone() {
        List<String> given = List.of("--model", "hf://o/r/m.gguf", "--output", "s3://lake/results", "--cache-dir",
                "/var/cache/models", "--output=none", "--model=file:///models/m.gguf", "--output", "file:///tmp/r");
        List<String> said = new ArrayList<>();
        assertEquals(given, ClusterPaths.absolute(given, said::add));
        assertEquals(List.of(), said);
    }

    @Test
    void aHomePathIsThisMachinesHomeAndOtherFlagsAreNotPaths() {
        List<String> args = ClusterPaths.absolute(List.of("--group-id", "models/x", "--model", "~/m.gguf", "--model"),
                line -> { });
        assertEquals(List.of("--group-id", "models/x", "--model", System.getProperty("user.home") + "/m.gguf", "--model"),
                args);
    }
}
