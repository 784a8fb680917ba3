package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Which of our own methods take or return Vector API values. Java 17's C2 boxes a vector it passes to a method it did
 * not inline; the single-token kernels' four accumulators, passed so after their loop, were boxed on every iteration
 * of it, and a kernel compiled so ran 4-5× slower for the life of the JVM. Whether C2 inlines a method of more than 35 bytes of bytecode depends on how hot the
 * call site's profile is when the kernel compiles, so a kernel must not hand its accumulators to such a method once per
 * call (the single-token kernels once did, to {@code storeLaneSums}; they now call {@code laneSum} once per row).
 * A new method here needs a reason why C2 always inlines it.
 */
class VectorArgumentsTest {

    private static final Map<String, String> ALLOWED = new TreeMap<>(Map.ofEntries(
            Map.entry("SimdFloatKernels.laneSum", "under 35 bytes, and shared by every kernel: compiled early"),
            Map.entry("SimdFloatKernels.laneSumInOrder", "Java 18+ only, where C2 weighs a call site by its frequency"),
            Map.entry("SimdExp.exp", "called inside loops: its call sites are as hot as the loops"),
            Map.entry("BF16Matrix$Simd.load", "called inside the loops, under 35 bytes"),
            Map.entry("F16Matrix$Simd.load", "called inside the loops"),
            Map.entry("Q8_0Matrix$Simd.load", "called inside the loops, under 35 bytes"),
            Map.entry("ScaleMatrix$Simd.load", "called inside the loops, under 35 bytes"),
            Map.entry("ScaleMinMatrix$Simd.load", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_0Matrix$Simd.widen", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_0Matrix$Simd.low", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_0Matrix$Simd.high", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_KMatrix$Simd.widen", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_KMatrix$Simd.low", "called inside the loops, under 35 bytes"),
            Map.entry("Q4_KMatrix$Simd.high", "called inside the loops, under 35 bytes")));

    @Test
    void onlyMethodsThatAreAlwaysInlinedTakeOrReturnVectors() throws Exception {
        Set<String> found = new TreeSet<>();
        for (Class<?> c : tensorClasses()) {
            for (Method m : c.getDeclaredMethods()) {
                boolean vectors = isVector(m.getReturnType())
                        || Arrays.stream(m.getParameterTypes()).anyMatch(VectorArgumentsTest::isVector);
                if (vectors && !m.isSynthetic()) {
                    found.add(c.getName().substring(c.getPackageName().length() + 1) + "." + m.getName());
                }
            }
        }
        assertFalse(found.isEmpty(), "no Vector API kernels found in " + SimdFloatKernels.class.getPackageName());
        Set<String> unlisted = new TreeSet<>(found);
        unlisted.removeAll(ALLOWED.keySet());
        assertEquals(Set.of(), unlisted, "methods that take or return vectors, with no reason why C2 always inlines them");
        Set<String> gone = new TreeSet<>(ALLOWED.keySet());
        gone.removeAll(found);
        assertEquals(Set.of(), gone, "listed methods that no longer exist");
    }

    private static boolean isVector(Class<?> type) {
        return jdk.incubator.vector.Vector.class.isAssignableFrom(type);
    }

    /** Every class of the package, nested ones included, from the directory or jar the kernels were loaded from. */
    private static Class<?>[] tensorClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(SimdFloatKernels.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String pkg = SimdFloatKernels.class.getPackageName();
        Path dir = root.resolve(pkg.replace('.', '/'));
        try (Stream<Path> files = Files.list(dir)) {
            String[] names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".class"))
                    .map(n -> pkg + "." + n.substring(0, n.length() - ".class".length())).sorted().toArray(String[]::new);
            Class<?>[] classes = new Class<?>[names.length];
            for (int i = 0; i < names.length; i++) {
                classes[i] = Class.forName(names[i], false, SimdFloatKernels.class.getClassLoader());
            }
            return classes;
        }
    }
}
