package io.inferstream.runtime.cuda;

import io.inferstream.runtime.gguf.GgmlType;

/**
 * The split-context (flash-decoding) paged attention of attention.cu ({@code attention_split_*} and
 * {@code attention_split_combine}): one block per (token, KV head, context split) computes every query head of the
 * KV head's group, so each key and value row is read once per token, not once per query head. This class knows the
 * launch shape (how many splits a step of n tokens gets, the dynamic shared memory), which models it serves, and
 * owns the partial-state scratch the combine reads: pacc [n, nHeads, splits, headDim] and pml [n, nHeads, splits, 2].
 *
 * <p>The split count depends only on the number of tokens (so a recorded CUDA graph stays valid whatever the
 * positions): enough blocks for the GPU ({@link #TARGET_BLOCKS}), at most {@link #MAX_SPLITS}. The kernel cuts
 * each token's context into chunks of at least 32 positions itself, so short contexts use fewer splits.
 */
final class SplitAttention implements AutoCloseable {

    /** attention.cu: SPLIT_WARPS (warps per block). */
    static final int WARPS = 4;
    /** Largest query-head group (query heads per KV head) with a compiled kernel. */
    static final int MAX_GROUP = 8;
    /**
     * Blocks a step should have (H200: 132 SMs, 4 resident blocks of 4 warps each at 103 registers). Run 5 timed the
     * Llama-3.2-1B c = 64 decode step (graph) with 512 / 1024 / 2048 / 4096: 2.40 / 2.50 / 2.65 / 2.73 ms; fewer,
     * longer splits win (one wave, no combine at 64 tokens), so 512.
     */
    static final int TARGET_BLOCKS = Integer.getInteger("inferstream.cuda.attentionBlocks", 512);
    static final int MAX_SPLITS = 16;

    private final int nHeads;
    private final int nKvHeads;
    private final int headDim;
    /**
     * Use the _pf kernels, which load each round's key and value rows one round ahead of the arithmetic (the same
     * bits); chosen at load ({@code EpilogueKernelChoices.chooseAttentionPrefetch}).
     */
    boolean prefetch;
    private DeviceBuffer partial; // [rows, headDim] unnormalised outputs of each (token, head, split)
    private DeviceBuffer maxSum;  // [rows, 2] running max and sum of each (token, head, split)
    private int capacity;
    private long rows; // rows of partial and maxSum

    SplitAttention(int nHeads, int nKvHeads, int headDim) {
        String why = unsupported(nHeads, nKvHeads, headDim);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        this.nHeads = nHeads;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
    }

    /**
     * Why the split kernel cannot serve these heads, or null when it can: head sizes 8..256 that are powers of two
     * (headDim / 8 lanes per position, 16-byte rows), at most {@link #MAX_GROUP} query heads per KV head.
     */
    static String unsupported(int nHeads, int nKvHeads, int headDim) {
        if (headDim < 8 || headDim > 256 || Integer.bitCount(headDim) != 1) {
            return "head size " + headDim + " is not a power of two in 8..256";
        }
        if (nKvHeads <= 0 || nHeads % nKvHeads != 0 || nHeads / nKvHeads > MAX_GROUP) {
            return nHeads + " query heads over " + nKvHeads + " KV heads: groups of at most " + MAX_GROUP + " supported";
        }
        if ((long) nKvHeads * headDim * 2 % 16 != 0) {
            return "KV rows of " + nKvHeads * headDim + " half floats are not 16-byte aligned";
        }
        return null;
    }

    /** Context splits of a step of {@code n} tokens: about {@link #TARGET_BLOCKS} blocks, 1..{@link #MAX_SPLITS}. */
    static int splits(int n, int nKvHeads) {
        int pairs = n * nKvHeads;
        return Math.max(1, Math.min(MAX_SPLITS, (TARGET_BLOCKS + pairs - 1) / pairs));
    }

    /** Rows of partial state (token, head, split) a step of up to {@code capacity} tokens needs. */
    long partialRows(int capacity) {
        return partialRows(capacity, nHeads, nKvHeads);
    }

    static long partialRows(int capacity, int nHeads, int nKvHeads) {
        long rows = 0;
        for (int n = 1; n <= capacity; n++) {
            rows = Math.max(rows, (long) n * nHeads * splits(n, nKvHeads));
        }
        return rows;
    }

    /** Device bytes of the partial outputs and (max, sum) pairs for steps of up to {@code tokens} tokens. */
    static long scratchBytes(int tokens, int nHeads, int nKvHeads, int headDim) {
        return partialRows(tokens, nHeads, nKvHeads) * (4L * headDim + 8);
    }

    /** Makes room for steps of up to {@code tokens} tokens; true when the scratch moved (recorded graphs go stale). */
    boolean ensure(int tokens) {
        if (tokens <= capacity) {
            return false;
        }
        closeScratch();
        rows = partialRows(tokens);
        partial = DeviceBuffer.allocate(4L * rows * headDim, "split attention partial outputs");
        maxSum = DeviceBuffer.allocate(8L * rows, "split attention partial max/sum");
        capacity = tokens;
        return true;
    }

    /** The group size the kernel is compiled for: the smallest of 1, 2, 4, 8 that holds nHeads / nKvHeads. */
    int compiledGroup() {
        int g = nHeads / nKvHeads;
        return g <= 1 ? 1 : g <= 2 ? 2 : g <= 4 ? 4 : 8;
    }

    /** Dynamic shared memory of one block: q of the group, per-warp max/sum and outputs. */
    int sharedBytes() {
        int g = nHeads / nKvHeads;
        return 4 * (g * headDim + 2 * WARPS * g + WARPS * g * headDim);
    }

    /**
     * out [n, nHeads * headDim] = paged causal attention of q [n, nHeads * headDim] over one layer's keys/values, with
     * {@code splits} context splits (see {@link #splits}); {@code n} must be within {@link #ensure}'s capacity.
     */
    void launch(CudaKernels k, boolean f16, Object q, Object keys, Object values, Object positions, Object seq,
                Object tables, int maxBlocks, int blockSize, Object out, int n, float scale, int splits) {
        launch(k, f16, q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, scale, splits, null, null, n, 0, 0f);
    }

    /**
     * {@link #launch(CudaKernels, boolean, Object, Object, Object, Object, Object, Object, int, int, Object, int, float, int)},
     * with {@code outH} non-null also writing out's padded 16-bit copy [npad, nHeads * headDim] in {@code halfType}
     * (BF16 or F16; rows n..npad-1 zero): the Wo product's activations as to_half_padded would write them; in a layer
     * with a sliding window of {@code window} positions (0: none), each token attends to its last {@code window}; with
     * {@code softcap} > 0 (Gemma 2) every score is capped to cap·tanh(score / cap) before the softmax.
     */
    void launch(CudaKernels k, boolean f16, Object q, Object keys, Object values, Object positions, Object seq,
                Object tables, int maxBlocks, int blockSize, Object out, int n, float scale, int splits, Object outH,
                GgmlType halfType, int npad, int window, float softcap) {
        int type = halfCode(outH, halfType, npad, n);
        if (n > capacity || splits < 1 || splits > 1 && (long) n * nHeads * splits > rows) {
            throw new IllegalStateException("split attention scratch holds " + capacity + " tokens; asked for " + n
                    + " tokens x " + splits + " splits");
        }
        String kernel = "attention_split_" + (prefetch ? "pf_" : "") + (f16 ? "f16" : "f32") + "_g" + compiledGroup();
        k.launch(kernel, n * nKvHeads, splits, 32 * WARPS, sharedBytes(), q, keys, values, positions, seq, tables,
                maxBlocks, blockSize, out, partial, maxSum, nHeads, nKvHeads, headDim, scale, splits == 1 ? outH : null, type,
                npad, window, softcap);
        if (splits > 1) {
            k.launch("attention_split_combine", n * nHeads, 1, 64, 0, positions, partial, maxSum, out, nHeads, headDim,
                    splits, outH, type, npad, window);
        }
    }

    /**
     * The attention kernels' halfType argument for a 16-bit copy of the output in {@code halfType} (2 BF16, 1 F16; 0
     * without one), checked: the copy needs one of the two types and at least n padded rows.
     */
    static int halfCode(Object outH, GgmlType halfType, int npad, int n) {
        if (outH != null && (halfType != GgmlType.BF16 && halfType != GgmlType.F16 || npad < n)) {
            throw new IllegalArgumentException("16-bit attention output needs BF16 or F16 and npad >= n; got " + halfType
                    + ", " + npad + " for " + n + " tokens");
        }
        return outH == null ? 0 : halfType == GgmlType.BF16 ? 2 : 1;
    }

    private void closeScratch() {
        if (partial != null) {
            partial.close();
            maxSum.close();
            partial = null;
            maxSum = null;
        }
        capacity = 0;
        rows = 0;
    }

    @Override
    public void close() {
        closeScratch();
    }
}
