package io.inferstream.runtime.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Kernel launches with the driver's programmatic-stream-serialization attribute (programmatic dependent launch,
 * compute capability 9.0): the kernel may start while the one before it in the stream is finishing, and waits for it
 * itself (common.cuh's pdl_wait). That is {@code cuLaunchKernelEx}, which JCuda 12.6 does not bind, so it is called
 * ({@link LaunchKernelEx}) through a foreign-function API: Java 17's incubator ({@link IncubatorLaunchDowncall}; the JVM
 * must be started with {@link #INCUBATOR_FLAGS}) or Java 21's java.lang.foreign ({@link FfmLaunchDowncall}). Captured
 * into a CUDA graph, such a launch becomes a programmatic edge.
 */
interface ProgrammaticLaunch {

    /** What Java 17 needs for these launches (its foreign-function API is an incubator module, and restricted). */
    String INCUBATOR_FLAGS = "--add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED";

    /** Whether this Java has that module at all (17-19 do; later Javas lack it and refuse the flag). */
    boolean JAVA_HAS_MODULE = java.lang.module.ModuleFinder.ofSystem().find("jdk.incubator.foreign").isPresent();

    /**
     * Whether this Java has java.lang.foreign as Java 21 and later have it (Java 20's preview differs; 18 and 19 still
     * have the incubator, whose API they changed).
     */
    boolean JAVA_HAS_FFM = Runtime.version().feature() >= 21;

    /**
     * The flags this Java needs for the launches: Java 17's incubator module, or, on Java 21 and later, native access
     * (without it the JVM warns once that a restricted method was called).
     */
    String JVM_FLAGS = JAVA_HAS_MODULE ? INCUBATOR_FLAGS : "--enable-native-access=ALL-UNNAMED";

    /**
     * Launches {@code function} (a CUfunction's value) on {@code stream} (a CUstream's value, 0: the legacy default
     * stream) with the attribute; arguments as {@link CudaKernels#launch} takes them.
     */
    void launch(long function, int gridX, int gridY, int block, int sharedBytes, long stream, Object[] args);

    /** Whether this JVM can make these launches at all: the incubator module loaded, or Java 21's API. */
    static boolean jvmCapable() {
        return JAVA_HAS_FFM || ModuleLayer.boot().findModule("jdk.incubator.foreign").isPresent();
    }

    /**
     * The launcher over {@code library} (a CUDA driver library exporting cuLaunchKernelEx), or why there is none: the
     * JVM lacks the module or native access, or the library or the symbol is missing.
     */
    static Opened open(Path library) {
        if (!jvmCapable()) {
            return Opened.unavailable(JAVA_HAS_MODULE
                    ? "the JVM was started without jdk.incubator.foreign (Java 17 flags: " + INCUBATOR_FLAGS + ")"
                    : "Java " + Runtime.version().feature() + " has no foreign-function API to call cuLaunchKernelEx with "
                    + "(Java 17's incubator or Java 21's java.lang.foreign); kernels launch the ordinary way");
        }
        try {
            LaunchDowncall driver = JAVA_HAS_FFM ? new FfmLaunchDowncall(library) : new IncubatorLaunchDowncall(library);
            return new Opened(new LaunchKernelEx(driver), null);
        } catch (IllegalCallerException e) {
            return Opened.unavailable("the JVM does not allow native access (flags: " + JVM_FLAGS + "): " + e.getMessage());
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
