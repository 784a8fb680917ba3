package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The programmatic launch's call into the driver, checked without a GPU: the structs {@link LaunchKernelEx} writes
 * are read back by C code compiled against the CUDA toolkit's own cuda.h (resources cuda-abi/launch_recorder.c,
 * standing in for cuLaunchKernelEx), in a JVM started with the flags the launch needs: this Java, and every other
 * Java 21 or later installed beside it, whose launches go through java.lang.foreign instead of Java 17's incubator.
 * Needs gcc and cuda.h (nvcc's toolkit); skipped with the reason where either is missing.
 */
class ProgrammaticLaunchAbiTest {

    private static final String LAUNCHED_AS_CUDA_H_SAYS = String.join("\n",
            "grid 7 3 1 block 256 1 1 smem 4096 stream abc0 attrs 1",
            "attr 6 1", // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, allowed
            "function 7f00deadbeef extra 0",
            "params 1000 0 42 1.5 1099511627776", // a device pointer's byte offset included; null as 0
            "launched");

    @Test
    void withoutTheForeignModuleItSaysWhichFlagsAreMissing() {
        // this JVM (surefire's) runs without jdk.incubator.foreign: on Java 17 it cannot launch
        Assumptions.assumeFalse(ProgrammaticLaunch.jvmCapable(), "SKIPPED: this JVM can launch programmatically (Java "
                + Runtime.version().feature() + "), so the message for one that cannot is not checked here");
        ProgrammaticLaunch.Opened opened = ProgrammaticLaunch.open(Path.of("/nonexistent/libcuda.so.1"));
        assertNull(opened.launcher());
        assertTrue(opened.reason().contains(ProgrammaticLaunch.INCUBATOR_FLAGS), opened.reason());
    }

    @Test
    void aMissingDriverLibraryIsNamed() throws Exception {
        List<String> out = probe(javaHere(), Path.of("/nonexistent/libcuda.so.1"), null);
        assertEquals(1, out.size(), String.join("\n", out));
        assertTrue(out.get(0).startsWith("unavailable: cuLaunchKernelEx of /nonexistent/libcuda.so.1 cannot be called: "), out.get(0));
    }

    @Test
    void theDriverReceivesTheLaunchAsCudaHLaysItOut(@TempDir Path dir) throws Exception {
        Path lib = recorder(dir);
        assertEquals(LAUNCHED_AS_CUDA_H_SAYS, String.join("\n", probe(javaHere(), lib, null)));
    }

    /**
     * Java 21 and later launch through java.lang.foreign ({@link FfmLaunchDowncall}): the same structs from every such
     * Java installed beside this one, and from a second class loader. CI's machine has Java 17 only and skips this; a
     * surefire run on Java 21 or later checks that path in the tests above as well.
     */
    @Test
    void everyOtherJavaHereLaunchesAlike(@TempDir Path dir) throws Exception {
        List<Path> others = otherJavas();
        Assumptions.assumeFalse(others.isEmpty(), "SKIPPED: no Java 21 or later installed beside " + System.getProperty("java.home"));
        Path lib = recorder(dir);
        for (Path java : others) {
            List<String> out = probe(java, lib, null, "again-in-another-class-loader");
            assertEquals(LAUNCHED_AS_CUDA_H_SAYS + "\n" + LAUNCHED_AS_CUDA_H_SAYS, String.join("\n", out), java.toString());
        }
        System.out.println("launched alike from " + others);
    }

    @Test
    void aDriverErrorIsThrownWithItsName(@TempDir Path dir) throws Exception {
        Path lib = recorder(dir);
        List<String> out = probe(javaHere(), lib, "1"); // CUDA_ERROR_INVALID_VALUE
        assertEquals("threw cuLaunchKernelEx (programmatic launch) failed: CUDA_ERROR_INVALID_VALUE", out.get(out.size() - 1));
    }

    /**
     * A second class loader of the JVM (Flink's for a second job on a TaskManager) launches too: the driver library is
     * looked up with dlopen, not bound to the first loader by System.load (which the JVM then refuses to every other).
     */
    @Test
    void anotherClassLoaderLaunchesThroughTheSameLibrary(@TempDir Path dir) throws Exception {
        Path lib = recorder(dir);
        List<String> out = probe(javaHere(), lib, null, "again-in-another-class-loader");
        assertEquals(2, out.stream().filter(l -> l.equals("launched")).count(), String.join("\n", out));
    }

    /** launch_recorder.c compiled against the toolkit's cuda.h into a shared library. */
    private static Path recorder(Path dir) throws IOException, InterruptedException {
        Path gcc = onPath("gcc");
        Assumptions.assumeTrue(gcc != null, "SKIPPED: no gcc on the PATH to compile the cuda.h recorder");
        Path include = cudaInclude();
        Assumptions.assumeTrue(include != null, "SKIPPED: no CUDA toolkit's cuda.h (CUDA_HOME, nvcc on the PATH, /usr/local/cuda)");
        Path src = dir.resolve("launch_recorder.c");
        try (InputStream in = ProgrammaticLaunchAbiTest.class.getResourceAsStream("/cuda-abi/launch_recorder.c")) {
            Files.write(src, in.readAllBytes());
        }
        Path lib = dir.resolve("librecorder.so");
        List<String> out = run(List.of(gcc.toString(), "-shared", "-fPIC", "-I" + include, "-o", lib.toString(), src.toString()), null);
        assertTrue(Files.exists(lib), "gcc failed: " + out);
        return lib;
    }

    /** The probe in {@code java} with the flags that Java needs, launching into {@code lib}. */
    private static List<String> probe(Path java, Path lib, String result, String... more) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(java.toString());
        cmd.addAll(List.of(flagsOf(java).split(" ")));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ProgrammaticLaunchAbiProbe.class.getName(), lib.toString()));
        cmd.addAll(List.of(more));
        List<String> out = run(cmd, result);
        Assumptions.assumeFalse(out.stream().anyMatch(l -> l.contains("jdk.incubator.foreign not found")),
                "SKIPPED: this JDK has no jdk.incubator.foreign (Java 17's incubating foreign-function API)");
        return out.stream().filter(l -> !l.startsWith("WARNING")).toList();
    }

    private static Path javaHere() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /** ProgrammaticLaunch.JVM_FLAGS as that Java computes them: the incubator's flags where it has the module. */
    private static String flagsOf(Path java) throws IOException, InterruptedException {
        if (java.equals(javaHere())) {
            return ProgrammaticLaunch.JVM_FLAGS;
        }
        boolean module = run(List.of(java.toString(), "--list-modules"), null).stream().anyMatch(l -> l.startsWith("jdk.incubator.foreign@"));
        return module ? ProgrammaticLaunch.INCUBATOR_FLAGS : "--enable-native-access=ALL-UNNAMED";
    }

    /** The java launchers of Java 21 and later in the folder that holds this Java (/usr/lib/jvm, say), this one excepted. */
    private static List<Path> otherJavas() throws IOException {
        Path here = Path.of(System.getProperty("java.home")).toRealPath();
        List<Path> javas = new ArrayList<>();
        try (var homes = Files.list(here.getParent())) {
            for (Path home : homes.sorted().toList()) {
                Path launcher = home.resolve("bin/java");
                if (home.toRealPath().equals(here) || !Files.isExecutable(launcher) || !Files.exists(home.resolve("release"))) {
                    continue;
                }
                Matcher v = Pattern.compile("JAVA_VERSION=\"(\\d+)")
                        .matcher(Files.readString(home.resolve("release")));
                if (v.find() && Integer.parseInt(v.group(1)) >= 21 && javas.stream().noneMatch(j -> sameHome(j, launcher))) {
                    javas.add(launcher);
                }
            }
        }
        return javas;
    }

    private static boolean sameHome(Path a, Path b) {
        try {
            return a.toRealPath().equals(b.toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    private static List<String> run(List<String> cmd, String recorderResult) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (recorderResult != null) {
            pb.environment().put("RECORDER_RESULT", recorderResult);
        }
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
        return text.lines().toList();
    }

    /** The toolkit's include directory: $CUDA_HOME, the nvcc on the PATH (a wrapper script is asked), /usr/local/cuda. */
    private static Path cudaInclude() throws IOException, InterruptedException {
        List<Path> candidates = new ArrayList<>();
        for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
            if (System.getenv(env) != null) {
                candidates.add(Path.of(System.getenv(env), "include"));
            }
        }
        Path nvcc = onPath("nvcc");
        if (nvcc != null) { // nvcc --dryrun names its own include directory (-I.../include)
            for (String line : run(List.of(nvcc.toString(), "--dryrun", "-E", "-x", "cu", "/dev/null"), null)) {
                Matcher m = Pattern.compile("INCLUDES=\"-I([^\"]+)\"").matcher(line);
                if (m.find()) {
                    candidates.add(Path.of(m.group(1).strip()));
                }
            }
        }
        candidates.add(Path.of("/usr/local/cuda/include"));
        return candidates.stream().filter(p -> Files.exists(p.resolve("cuda.h"))).findFirst().orElse(null);
    }

    private static Path onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }
}
