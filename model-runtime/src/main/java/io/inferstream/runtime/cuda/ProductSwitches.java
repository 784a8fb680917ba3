package io.inferstream.runtime.cuda;

/**
 * Which kernels the skinny and streaming products run: the load-time choices of {@link ProductKernelChoices}. The
 * model holds the chosen set ({@code CudaLlamaModel.chosen}); the skinny scratch holds the set the product code reads
 * ({@code SkinnyScratch.kernels}), which a load-time trial flips while it times the other way and which
 * {@code CudaLlamaModel.syncSkinny} sets back to the chosen one.
 */
final class ProductSwitches {

    /** Use matmul_skinny_smem (activations staged through shared memory) instead of matmul_skinny. */
    boolean staged;

    /** Use matmul_skinny_pipe (cp.async pipeline of weight and activation tiles); takes precedence over staged. */
    boolean pipelined;

    /** Split under-filled matrices deeper (SkinnyScratch.DEEP_MIN_BLOCKS: more blocks, more partial sums). */
    boolean deepSplit;

    /**
     * Use matmul_stream (stream.cu: weights straight into tensor-core fragments, 128 rows per block, 8-token tiles)
     * with its own split policy ({@link SkinnyScratch#streamChunk}); takes precedence over pipelined and staged.
     */
    boolean streaming;

    /** With streaming: matmul_stream serves decode steps of 1..8 tokens too (instead of matvec). */
    boolean small;

    /** With streaming: the 16-warp blocks of matmul_stream_wide (256 rows, 1 per SM) instead of 8-warp ones. */
    boolean streamWide;

    /**
     * With streaming: the _packed kernels, reading each matrix's packed copy (DeviceMatrix.packForStream) where it
     * has one; the same bits as from the row-major weights.
     */
    boolean packed;

    /**
     * With packed: the sm_90a module's kernels (Hopper's warpgroup MMAs, CudaKernels.WGMMA), reading each matrix's
     * wgmma packing (DeviceMatrix.packForWgmma) where it has one. Compute capability 9.x only.
     */
    boolean wgmma;

    /**
     * With packed: the _tall_packed kernels (8 warps of 32 rows, 256-row blocks, one per SM: half the shared-memory
     * activation reads per weight byte) for products whose grid still has a block for every SM
     * ({@link #tallMinBlocks}); the split policy stays that of {@link #streamWide}.
     */
    boolean streamTall;

    /**
     * Fewest blocks a product must have to run the tall kernels ({@link SkinnyScratch#tallMinBlocks(int)} of the
     * device's SMs, set by the model). With one 256-row block per SM, a smaller grid (Llama-3.2-1B's Wo: 8 row blocks x
     * 8 splits = 64) would leave SMs without weights to stream, where the 16-row kernel's 128-row blocks fill twice as
     * many slots.
     */
    int tallMinBlocks = SkinnyScratch.tallMinBlocks(132);

    /**
     * With streaming: products of more than 64 tokens (prefill and mixed steps) as 64-token slices of one
     * matmul_stream_slices launch instead of the tiled WMMA kernel.
     */
    boolean slicedPrefill;

    /**
     * Q8_0 and kept Q4_K / Q6_K matrices run matmul_stream_q8 / _q4_k / _q6_k (stream.cu: quants widened to F16 in
     * tensor-core fragments, scales (and Q4_K's mins) per 32 applied in float, Q6_K's per 16 before the mma; 64-token
     * slices for longer steps) for steps of more than 8 tokens instead of the CUDA-core matmul_tiled_*, with
     * matmul_stream's default split policy.
     */
    boolean quant;

    /** Whether a product (with a packed copy: {@code hasPacked}) runs the tall kernel, given its blocks as one. */
    boolean tall(boolean hasPacked, long tallBlocks) {
        return streaming && packed && hasPacked && streamTall && tallBlocks >= tallMinBlocks;
    }

    /** Tokens per tile of the kernel in use: activations and partial sums are padded to whole tiles. */
    int tileTokens() {
        return streaming ? 8 : 16;
    }

    /** The skinny product kernel's name without its type suffix. */
    String kernelPrefix() {
        return pipelined ? "matmul_skinny_pipe_" : staged ? "matmul_skinny_smem_" : "matmul_skinny_";
    }

    /** Sets every switch as {@code o} has it; returns whether any changed (recorded CUDA graphs then go stale). */
    boolean copyFrom(ProductSwitches o) {
        boolean changed = staged != o.staged || pipelined != o.pipelined || deepSplit != o.deepSplit
                || streaming != o.streaming || small != o.small || streamWide != o.streamWide || packed != o.packed
                || wgmma != o.wgmma || streamTall != o.streamTall || tallMinBlocks != o.tallMinBlocks
                || slicedPrefill != o.slicedPrefill || quant != o.quant;
        staged = o.staged;
        pipelined = o.pipelined;
        deepSplit = o.deepSplit;
        streaming = o.streaming;
        small = o.small;
        streamWide = o.streamWide;
        packed = o.packed;
        wgmma = o.wgmma;
        streamTall = o.streamTall;
        tallMinBlocks = o.tallMinBlocks;
        slicedPrefill = o.slicedPrefill;
        quant = o.quant;
        return changed;
    }
}
