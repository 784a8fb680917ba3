package io.inferstream.runtime.tensor;

/**
 * Decides once whether the Vector API kernels run: {@code jdk.incubator.vector} must be resolvable at run
 * time (the JVM was started with {@code --add-modules jdk.incubator.vector}), the preferred float species
 * must have at least 8 lanes (AVX2 or AVX-512; narrower machines run the plain loops, which the JIT
 * auto-vectorizes reasonably), and {@code -Dinferstream.vector=false} must not be set.
 *
 * <p>No Vector API type appears in this class: the kernels live in separate classes ({@code SimdFloatKernels}
 * and each matrix's nested {@code Simd} class) that are loaded only when this says yes, so a JVM without
 * the module never fails at class-load time.
 */
final class VectorApiSupport {

    static final boolean ENABLED = detect();

    private VectorApiSupport() {
    }

    private static boolean detect() {
        if ("false".equalsIgnoreCase(System.getProperty("inferstream.vector", "true"))) {
            return false;
        }
        try {
            Class.forName("jdk.incubator.vector.FloatVector");
            return SimdFloatKernels.LANES >= 8;
        } catch (Throwable e) { // ClassNotFoundException, NoClassDefFoundError, module errors
            return false;
        }
    }

    /** Human-readable description for logs and benchmarks. */
    static String describe() {
        return ENABLED ? "Vector API, " + SimdFloatKernels.LANES * 32 + "-bit float vectors, "
                + SimdFloatKernels.TILE_ROWS + "-row tiles" : "scalar loops";
    }
}
