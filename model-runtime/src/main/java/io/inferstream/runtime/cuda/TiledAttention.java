package io.inferstream.runtime.cuda;

import java.util.Arrays;

import io.inferstream.runtime.gguf.GgmlType;

/**
 * The tiled prefill attention of attention.cu ({@code attention_tiled_f16_d64 / _d128}, FlashAttention-2 style on
 * tensor cores): one block per (item, KV head), where an item is up to {@link #ROWS} / G consecutive tokens of one
 * sequence (G query heads per KV head), so the block's 64 query rows share every key and value tile it copies into
 * shared memory. The split kernel reads a token's whole context for that token alone; for a prefill chunk of c tokens
 * at context P that is c * P rows against P * c / items-per-tile here. This class cuts a step into items
 * ({@link #plan}), says when a step is worth it ({@link #worthIt}: a run of at least {@link #MIN_RUN} tokens), which
 * models it serves, and launches it.
 *
 * <p>Q and the softmax weights are rounded to F16 for the tensor cores (float accumulation), so its outputs differ from
 * the split kernel's by about 1e-4 of their size (emulate.sh: 1.0e-4 to 2.4e-4 against a float64 softmax; an F32
 * cache's keys and values are rounded to F16 in the fragments too: up to 3.4e-4); the
 * load-time choice adopts it within {@link #TOLERANCE} and only where faster.
 */
final class TiledAttention {

    /** attention.cu: TILED_WARPS. */
    static final int WARPS = 4;
    /** Query rows of a block (16 per warp): tokens per item x query heads per KV head. */
    static final int ROWS = 16 * WARPS;
    /** A step uses the tiled kernel when one of its sequences has a run of at least this many consecutive tokens. */
    static final int MIN_RUN = 16;
    /** Largest relative difference from the split kernel the load-time choice accepts (F16 Q and P). */
    static final double TOLERANCE = 3e-3;

    private final int nHeads;
    private final int nKvHeads;
    private final int headDim;

    TiledAttention(int nHeads, int nKvHeads, int headDim) {
        String why = unsupported(nHeads, nKvHeads, headDim);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        this.nHeads = nHeads;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
    }

    /**
     * Why the tiled kernel cannot serve these heads, or null: head sizes 64 and 128 (compiled for each, with
     * {@link #tilePositions} positions a tile and 33-37 KB of shared memory), query-head groups of at most {@link #ROWS}
     * (an item is ROWS / G tokens, rounded down: groups of 7 use 63 of the 64 rows).
     */
    static String unsupported(int nHeads, int nKvHeads, int headDim) {
        if (headDim != 64 && headDim != 128) {
            return "head size " + headDim + " (compiled for 64 and 128)";
        }
        if (nKvHeads <= 0 || nHeads % nKvHeads != 0 || nHeads / nKvHeads > ROWS) {
            return nHeads + " query heads over " + nKvHeads + " KV heads: groups of at most " + ROWS + " supported";
        }
        return null;
    }

    /** Tokens per item: the block's rows over the query heads of a group, rounded down. */
    int tokensPerItem() {
        return ROWS / (nHeads / nKvHeads);
    }

    /**
     * Cuts tokens 0..n-1 into items, in token order: a new item starts where the sequence changes, the position does
     * not follow the previous token's, or the item is full. Returns (first token, count) pairs.
     */
    static int[] plan(int[] seq, int[] positions, int n, int perItem) {
        int[] items = new int[2 * n];
        int count = 0;
        for (int t = 0; t < n; t++) {
            boolean joins = t > 0 && seq[t] == seq[t - 1] && positions[t] == positions[t - 1] + 1
                    && items[2 * count - 1] < perItem;
            if (joins) {
                items[2 * count - 1]++;
            } else {
                items[2 * count] = t;
                items[2 * count + 1] = 1;
                count++;
            }
        }
        return Arrays.copyOf(items, 2 * count);
    }

    /** Whether a step is worth the tiled kernel: some sequence has a run of {@link #MIN_RUN} consecutive tokens. */
    static boolean worthIt(int[] seq, int[] positions, int n) {
        int run = 0;
        for (int t = 0; t < n; t++) {
            run = t > 0 && seq[t] == seq[t - 1] && positions[t] == positions[t - 1] + 1 ? run + 1 : 1;
            if (run >= MIN_RUN) {
                return true;
            }
        }
        return false;
    }

    /** Positions per key/value tile (attention.cu's KT): half as many for an F32 cache, tiled as it is stored. */
    int tilePositions(boolean f16) {
        return (headDim == 64 ? 64 : 32) / (f16 ? 1 : 2);
    }

    /** Dynamic shared memory: two stages of key and value tiles, each row padded by 16 bytes (about 35-37 KB). */
    int sharedBytes(boolean f16) {
        return 2 * 2 * tilePositions(f16) * (headDim * (f16 ? 2 : 4) + 16);
    }

    /**
     * out [n, nHeads * headDim] = paged causal attention of q over one layer's keys/values (F16, or F32 rounded to F16
     * in the fragments) for the {@code items}
     * (first token, count) pairs at {@code itemData} (see {@link #plan}); with {@code outH} non-null also out's padded
     * 16-bit copy [npad, nHeads * headDim] in {@code halfType} (rows n..npad-1 zero), as SplitAttention writes it; in
     * a layer with a sliding window of {@code window} positions (0: none), each token attends to its last {@code window};
     * {@code softcap} &gt; 0 caps every score as SplitAttention does.
     */
    void launch(CudaKernels k, boolean f16, Object q, Object keys, Object values, Object positions, Object seq,
                Object tables, int maxBlocks, int blockSize, Object itemData, int items, Object out, int n, float scale,
                Object outH, GgmlType halfType, int npad, int window, float softcap) {
        int type = SplitAttention.halfCode(outH, halfType, npad, n);
        if (items < 1 || items > n) {
            throw new IllegalArgumentException(items + " items for " + n + " tokens");
        }
        String kernel = "attention_tiled_" + (f16 ? "f16" : "f32") + "_d" + headDim;
        k.launch(kernel, items, nKvHeads, 32 * WARPS, sharedBytes(f16), q, keys, values, positions, seq, tables, maxBlocks,
                blockSize, itemData, out, n, nHeads, nKvHeads, scale, outH, type, npad, window, softcap);
    }
}
