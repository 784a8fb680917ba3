package io.inferstream.runtime.cuda;

/**
 * How the GPU holds Q4_K and Q6_K weights ({@code --gpu-kquants}): decoded to F16 (2 bytes a weight, read by the
 * tensor-core and streaming kernels) or kept as the CPU's planes (about 0.75 and 1.25 bytes a weight, read by the
 * matvec, tiled and embedding kernels). Other types are not affected.
 */
public enum KQuantPolicy {
    /** Decoded, unless the decoded weights and the activations would not fit in the memory budget: then kept. */
    AUTO,
    /** Kept quantized. */
    NATIVE,
    /** Decoded to F16. */
    F16;

    /** Whether the weights stay quantized, given the memory plan they would have decoded. */
    boolean keeps(MemoryPlan decoded) {
        return switch (this) {
            case NATIVE -> true;
            case F16 -> false;
            case AUTO -> decoded.kvBytes() <= 0;
        };
    }
}
