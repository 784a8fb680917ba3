package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kernel families this test JVM cannot select: a JVM without {@code jdk.incubator.vector} (scalar
 * fallback chosen at run time, no class-loading failure), 256-bit vectors (the AVX2 code paths) and 512-bit
 * vectors (the AVX-512 code paths, emulated by the JDK on narrower machines), each with both batched register
 * tiles (2 and 4 rows; a machine picks one by its register count). Each runs {@link KernelProbe} in a fresh JVM.
 */
class KernelFamiliesInOtherJvmsTest {

    private static String runProbe(String... jvmArgs) throws IOException, InterruptedException {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>();
        cmd.add(java.toString());
        cmd.addAll(List.of(jvmArgs));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(KernelProbe.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        boolean finished = p.waitFor(120, TimeUnit.SECONDS);
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!finished) {
            p.destroyForcibly();
        }
        assertTrue(finished, "probe timed out: " + output);
        assertEquals(0, p.exitValue(), output);
        return output;
    }

    @Test
    void withoutTheVectorModuleKernelsFallBackToPlainLoops() throws Exception {
        String out = runProbe();
        assertTrue(out.contains("kernels: scalar loops"), out);
        assertTrue(out.contains("compiler: no advice"), out); // the plain loops do not need the trap limit
        assertTrue(out.contains("all kernels agree with float64"), out);
    }

    @Test
    void vectorDisabledByPropertyUsesPlainLoops() throws Exception {
        String out = runProbe("--add-modules", "jdk.incubator.vector", "-Dinferstream.vector=false");
        assertTrue(out.contains("kernels: scalar loops"), out);
        assertTrue(out.contains("all kernels agree with float64"), out);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void with256BitVectorsKernelsMatchFloat64(int tileRows) throws Exception {
        // the AVX2 code paths (eight lanes), which an AVX-512 machine does not take by itself; both batched tiles
        String out = runProbe("--add-modules", "jdk.incubator.vector", "-Dinferstream.vector.bits=256",
                "-Dinferstream.tileRows=" + tileRows);
        assertTrue(out.contains("kernels: Vector API, 256-bit float vectors, " + tileRows + "-row tiles"), out);
        assertTrue(out.contains("all kernels agree with float64"), out);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void with512BitVectorsKernelsMatchFloat64(int tileRows) throws Exception {
        String out = runProbe("--add-modules", "jdk.incubator.vector", "-Dinferstream.vector.bits=512",
                "-Dinferstream.tileRows=" + tileRows);
        assertTrue(out.contains("kernels: Vector API, 512-bit float vectors, " + tileRows + "-row tiles"), out);
        assertTrue(out.contains("all kernels agree with float64"), out);
    }

    @Test
    void aJvmAtTheDefaultTrapLimitIsToldTheFlagAndOneWithItIsNot() throws Exception {
        // the probe JVMs above start at HotSpot's default PerMethodTrapLimit (100), as a user's own JVM would
        String plain = runProbe("--add-modules", "jdk.incubator.vector");
        String flagged = runProbe("--add-modules", "jdk.incubator.vector", CompilerTrapLimit.FLAG);
        if (Runtime.version().feature() < CompilerTrapLimit.FAST_AT_DEFAULT_FROM) {
            int java = Runtime.version().feature();
            assertTrue(plain.contains("compiler: PerMethodTrapLimit is 100: Java " + java + "'s JIT"), plain);
            assertTrue(plain.contains("start the JVM with -XX:PerMethodTrapLimit=10000"), plain);
        } else {
            assertTrue(plain.contains("compiler: no advice"), plain);
        }
        assertTrue(flagged.contains("compiler: no advice"), flagged);
        assertTrue(flagged.contains("all kernels agree with float64"), flagged);
    }
}
