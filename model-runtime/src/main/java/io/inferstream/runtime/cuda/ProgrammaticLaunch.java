package io.inferstream.runtime.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Kernel launches with the driver's programmatic-stream-serialization attribute (programmatic dependent launch,
 * compute capability 9.0): the kernel may start while the one before it in the stream is finishing, and waits for it
 * itself (common.cuh's pdl_wait). That is {@code cuLaunchKernelEx}, which JCuda 12.6 does not bind, so it is called
 * through Java 17's incubating foreign-function API ({@link ForeignProgrammaticLaunch}); the JVM must be started with
 * {@link #JVM_FLAGS}. Captured into a CUDA graph, such a launch becomes a programmatic edge.
 */
interface ProgrammaticLaunch {

    /** What the JVM needs for these launches (Java 17's foreign-function API is an incubator module, and restricted). */
    String JVM_FLAGS = "--add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED";

    /** Whether this Java has that module at all (17-19 do; later Javas lack it and refuse the flag). */
    boolean JAVA_HAS_MODULE = java.lang.module.ModuleFinder.ofSystem().find("jdk.incubator.foreign").isPresent();

    /**
     * Launches {@code function} (a CUfunction's value) on {@code stream} (a CUstream's value, 0: the legacy default
     * stream) with the attribute; arguments as {@link CudaKernels#launch} takes them.
     */
    void launch(long function, int gridX, int gridY, int block, int sharedBytes, long stream, Object[] args);

    /**
     * The launcher over {@code library} (a CUDA driver library exporting cuLaunchKernelEx), or why there is none: the
     * JVM lacks the module or native access, or the library or the symbol is missing.
     */
    static Opened open(Path library) {
        if (ModuleLayer.boot().findModule("jdk.incubator.foreign").isEmpty()) {
            return Opened.unavailable("the JVM was started without jdk.incubator.foreign " + (JAVA_HAS_MODULE
                    ? "(Java 17 flags: " + JVM_FLAGS + ")"
                    : "(Java " + Runtime.version().feature() + " has no such module: it incubates in Java 17-19; kernels "
                    + "launch the ordinary way)"));
        }
        try {
            return new Opened(new ForeignProgrammaticLaunch(library), null);
        } catch (IllegalCallerException e) {
            return Opened.unavailable("the JVM does not allow native access (Java 17 flags: " + JVM_FLAGS + "): " + e.getMessage());
        } catch (LinkageError | RuntimeException e) {
            return Opened.unavailable("cuLaunchKernelEx of " + library + " cannot be called: " + e);
        }
    }

    /** {@link #open} on the CUDA driver library this process has loaded (JCuda's cuInit loads it). */
    static Opened openDriver() {
        Optional<Path> lib = loadedDriver();
        return lib.isPresent() ? open(lib.get()) : Opened.unavailable("no libcuda.so is mapped into this process");
    }

    /** The path of the libcuda.so this process has mapped (from /proc/self/maps), if any. */
    static Optional<Path> loadedDriver() {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.map(l -> l.substring(l.lastIndexOf(' ') + 1))
                    .filter(p -> p.startsWith("/") && Path.of(p).getFileName().toString().startsWith("libcuda.so"))
                    .findFirst().map(Path::of);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** A launcher, or the reason there is none. */
    record Opened(ProgrammaticLaunch launcher, String reason) {
        static Opened unavailable(String reason) {
            return new Opened(null, reason);
        }
    }
}
