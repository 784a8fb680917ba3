package io.inferstream.runtime.cuda;

/**
 * Device workspace of the skinny (decode) tensor-core product: the activations rounded to 16 bits and padded
 * to whole 16-token tiles [64, maxCols], and the split-K partial sums [splits, 64, rows] of the largest matrix.
 * Allocated once, so that a step never allocates (and can be recorded as a CUDA graph).
 */
final class SkinnyScratch implements AutoCloseable {

    /** Largest batch the skinny product serves (4 tiles of 16 tokens per warp). */
    static final int MAX_TOKENS = 64;
    /** Enough warps (16 rows x one K range each) to keep HBM busy. */
    private static final int TARGET_WARPS = 2048;
    /**
     * The deep split ({@link ProductSwitches#deepSplit}, chosen at load) for matrices whose default grid is under this
     * many blocks of 64 rows (about 4 per SM on 132 SMs): more K ranges, down to 128 columns, until the grid reaches it. For
     * Llama-3.2-1B that is Wq and Wo (2048 x 2048: 256 -> 512 blocks) and Wk, Wv (512 x 2048: 64 -> 128); gate,
     * up and down already run 512 blocks and keep their split. The sums are in another order (more partial sums),
     * so results differ from the default split in the last bits: adopted only within a tolerance and when faster.
     */
    private static final int DEEP_MIN_BLOCKS = 512;

    final DeviceBuffer halves;  // [64, maxCols] 16-bit
    final DeviceBuffer partial; // [splits, 64, rows] float
    /**
     * Arrival counters of the grouped products that reduce their own partial sums (GroupEpilogue), one per row block,
     * zero between launches; null when the scratch was made without them.
     */
    final DeviceBuffer counters;
    /**
     * A second [64, maxCols] 16-bit activation space, for the grouped gate/up product that reduces its own sums and
     * writes the down product's 16-bit activations into {@link #halves} while its own are still being read: its norm
     * writes them here instead. Null with {@link #counters}.
     */
    final DeviceBuffer stagedHalves;
    /** Which kernels the products run (the model's chosen ones, or the other way while a load-time trial times it). */
    final ProductSwitches kernels = new ProductSwitches();

    /** Seven eighths of the SMs: Llama-3.2-1B's down (128 tall blocks) still runs tall on 132 SMs. */
    static int tallMinBlocks(int sms) {
        return (sms * 7 + 7) / 8;
    }

    /** Blocks of a tall launch of a rows x cols product under a split policy (256 rows each, one per split). */
    static long tallBlocks(int rows, int cols, boolean wide, boolean deep) {
        return (long) ((rows + 255) / 256) * streamSplits(rows, cols, wide, deep);
    }

    private DeviceBuffer sliceHalves;
    private DeviceBuffer blockSums; // Q4_K: the activations' per-32 sums [cols / 64][npad][2], grown on demand

    /**
     * The block-sum buffer of a Q4_K product of n tokens over cols columns (half_block_sums), allocated or grown here;
     * sized up front with the sliced activations (CudaLlamaModel) so that a step never allocates.
     */
    DeviceBuffer blockSums(int n, int cols) {
        long bytes = 4L * Math.max(MAX_TOKENS, (n + 7) / 8 * 8) * (cols / 32);
        if (blockSums == null || blockSums.bytes() < bytes) {
            if (blockSums != null) {
                blockSums.close();
            }
            blockSums = DeviceBuffer.allocate(bytes, "Q4_K activation block sums");
        }
        return blockSums;
    } // [npad, cols] 16-bit activations of a sliced product, grown on demand

    /**
     * The 16-bit activations buffer of a sliced product of n tokens over cols columns (n padded to whole 8-token
     * tiles), allocated or grown here; callers size it up front (CudaLlamaModel) so that a step never allocates.
     */
    DeviceBuffer sliceHalves(int n, int cols) {
        long bytes = 2L * ((n + 7) / 8 * 8) * cols;
        if (sliceHalves == null || sliceHalves.bytes() < bytes) {
            if (sliceHalves != null) {
                sliceHalves.close();
            }
            sliceHalves = DeviceBuffer.allocate(bytes, "sliced product activations");
        }
        return sliceHalves;
    }

    /** Device bytes of the sliced products' activations for {@code tokens} tokens of a model (the memory plan's share). */
    static long sliceHalvesBytes(io.inferstream.runtime.model.ModelConfig c, int tokens) {
        long maxCols = Math.max(Math.max(c.dim(), c.hiddenDim()), (long) c.nHeads() * c.headDim());
        long npad = Math.max(MAX_TOKENS, (tokens + 7) / 8 * 8);
        return 2L * npad * maxCols + 4L * npad * (maxCols / 32); // and the Q4_K block sums
    }

    /** Warps of matmul_stream a product should have: 16 per SM (2 blocks of 8 or 1 of 16) on 132 SMs, one wave. */
    static final int STREAM_TARGET_WARPS = 2048;
    /** K columns per matmul_stream chunk (stream.cu: ST_KC); its split chunks are multiples of it. */
    static final int STREAM_KC = 64;

    /** Weight rows per block of matmul_stream (8 warps of 16 rows) or matmul_stream_wide (16 warps). */
    static int streamRows(boolean wide) {
        return wide ? 256 : 128;
    }

    /**
     * K columns per split of matmul_stream(_wide), a multiple of 64: as many splits as bring the grid to about
     * {@link #STREAM_TARGET_WARPS} warps (256 blocks of 8 warps, 128 of 16), but K ranges of at least 256 columns
     * (each split adds partial sums [64, rows] to write and reduce). Llama-3.2-1B, 8-warp blocks: gate/up
     * 8192 x 2048 and down 2048 x 8192 run 256 blocks of 512 columns; Wq/Wo 2048 x 2048 128 blocks of 256; the
     * output head 1002 blocks, one split.
     */
    static int streamChunk(int rows, int cols, boolean wide) {
        return streamChunk(rows, cols, wide, false);
    }

    /**
     * {@link #streamChunk(int, int, boolean)}, or with {@code deep} K ranges down to 128 columns where the 256-column
     * minimum keeps a matrix's grid under the target: Llama-3.2-1B's Wq/Wo 8 -> 16 splits (128 -> 256 blocks) and
     * Wk/Wv 8 -> 16 (32 -> 64), the others unchanged. Each warp then has 2 chunks of weights in flight instead of
     * 4, but twice the warps run; the partial sums double for those matrices. Chosen at load by timing
     * ({@code ProductKernelChoices.chooseDeepSplit}), as the deep split of the older kernels.
     */
    static int streamChunk(int rows, int cols, boolean wide, boolean deep) {
        int rowsPerBlock = streamRows(wide);
        int rowBlocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        int targetBlocks = STREAM_TARGET_WARPS / (rowsPerBlock / 16);
        int splits = (targetBlocks + rowBlocks - 1) / rowBlocks;
        splits = Math.max(1, Math.min(splits, cols / (deep ? 128 : 256)));
        int chunk = (cols + splits - 1) / splits;
        return (chunk + STREAM_KC - 1) / STREAM_KC * STREAM_KC;
    }

    static int streamSplits(int rows, int cols, boolean wide) {
        return streamSplits(rows, cols, wide, false);
    }

    static int streamSplits(int rows, int cols, boolean wide, boolean deep) {
        int chunk = streamChunk(rows, cols, wide, deep);
        return (cols + chunk - 1) / chunk;
    }

    /** Whether matmul_stream can take a rows x cols matrix: rows of whole 16-byte pieces (16-byte aligned). */
    static boolean streamFits(int rows, int cols) {
        return rows > 0 && cols > 0 && cols % 8 == 0;
    }

    SkinnyScratch(long maxCols, long maxPartialFloats) {
        this(maxCols, maxPartialFloats, 0);
    }

    /** With {@code groupBlocks} > 0, also the counters and the second activation space of {@link GroupEpilogue}s. */
    SkinnyScratch(long maxCols, long maxPartialFloats, int groupBlocks) {
        halves = DeviceBuffer.allocate(2L * MAX_TOKENS * maxCols, "skinny product activations");
        partial = DeviceBuffer.allocate(4L * maxPartialFloats, "skinny product partial sums");
        counters = groupBlocks > 0 ? DeviceBuffer.allocate(4L * groupBlocks, "grouped product arrival counters") : null;
        stagedHalves = groupBlocks > 0 ? DeviceBuffer.allocate(2L * MAX_TOKENS * maxCols, "staged skinny product activations")
                : null;
    }

    /**
     * Row blocks of the largest grouped launch of a model of this shape (Q/K/V, or gate and up) at the smallest block of
     * the streaming kernels (128 rows): the arrival counters its {@link GroupEpilogue}s need.
     */
    static int groupBlocks(io.inferstream.runtime.model.ModelConfig c) {
        int q = c.nHeads() * c.headDim();
        int qkv = (q + 127) / 128 + 2 * ((c.kvDim() + 127) / 128);
        return Math.max(qkv, 2 * ((c.hiddenDim() + 127) / 128));
    }

    /**
     * Device bytes of the scratch a model of this shape gets (what {@code CudaLlamaModel.useSkinnyDecode} allocates):
     * 16-bit activations of the widest matrix (twice: {@link #stagedHalves}), the partial sums of the largest product,
     * alone or grouped (Q/K/V, gate/up), under any split policy, and the grouped products' arrival counters. For the
     * memory plan, so the KV pool does not take this memory first.
     */
    static long bytesFor(io.inferstream.runtime.model.ModelConfig c) {
        int dim = c.dim();
        int q = c.nHeads() * c.headDim();
        int kv = c.kvDim();
        int hidden = c.hiddenDim();
        int[][] shapes = {{q, dim}, {kv, dim}, {dim, q}, {hidden, dim}, {dim, hidden}, {c.vocabSize(), dim}};
        long maxCols = 0;
        long maxPartial = 0;
        for (int[] rc : shapes) {
            maxCols = Math.max(maxCols, rc[1]);
            maxPartial = Math.max(maxPartial, partialFloats(rc[0], rc[1]));
        }
        maxPartial = Math.max(maxPartial, partialFloats(q, dim) + 2 * partialFloats(kv, dim));
        maxPartial = Math.max(maxPartial, 2 * partialFloats(hidden, dim));
        return 2 * 2L * MAX_TOKENS * maxCols + 4L * maxPartial + 4L * groupBlocks(c); // halves, staged halves, counters
    }

    /** Whether the arrival counters cover every 128-row block of a product of {@code rows} (none: false). */
    boolean countsBlocksOf(int rows) {
        return counters != null && (rows + 127) / 128 <= counters.bytes() / 4;
    }

    /** Whether a rows x cols matrix can use the skinny product (whole 16 x 16 tiles). */
    static boolean fits(int rows, int cols) {
        return rows % 16 == 0 && cols % 16 == 0;
    }

    /** K columns per split under this scratch's split policy. */
    int kChunk(int rows, int cols) {
        return kernels.streaming ? streamChunk(rows, cols, kernels.streamWide, kernels.deepSplit)
                : kChunk(rows, cols, kernels.deepSplit);
    }

    /** Splits under this scratch's split policy. */
    int splits(int rows, int cols) {
        return kernels.streaming ? streamSplits(rows, cols, kernels.streamWide, kernels.deepSplit)
                : splits(rows, cols, kernels.deepSplit);
    }

    /**
     * K columns per split, a multiple of 16: few splits for tall matrices, more for short ones (default: K ranges
     * of at least 256 columns, about 2048 warps; deep: see DEEP_MIN_BLOCKS).
     */
    static int kChunk(int rows, int cols, boolean deep) {
        int rowTiles = rows / 16;
        int splits = Math.max(1, Math.min(Math.max(1, cols / 256), TARGET_WARPS / Math.max(1, rowTiles)));
        int rowBlocks = (rowTiles + 3) / 4;
        if (deep && (long) rowBlocks * splits < DEEP_MIN_BLOCKS) {
            int wanted = (DEEP_MIN_BLOCKS + rowBlocks - 1) / rowBlocks;
            splits = Math.max(splits, Math.min(Math.max(1, cols / 128), wanted));
        }
        int chunk = (cols + splits - 1) / splits;
        return (chunk + 15) / 16 * 16;
    }

    static int splits(int rows, int cols, boolean deep) {
        int chunk = kChunk(rows, cols, deep);
        return (cols + chunk - 1) / chunk;
    }

    /** Partial-sum floats a rows x cols product needs under any split policy (default, deep, matmul_stream's). */
    static long partialFloats(int rows, int cols) {
        int splits = Math.max(splits(rows, cols, false), splits(rows, cols, true));
        if (streamFits(rows, cols)) {
            for (boolean wide : new boolean[] {false, true}) {
                splits = Math.max(splits, Math.max(streamSplits(rows, cols, wide, false), streamSplits(rows, cols, wide, true)));
            }
        }
        return (long) splits * MAX_TOKENS * rows;
    }

    @Override
    public void close() {
        halves.close();
        partial.close();
        if (counters != null) {
            counters.close();
            stagedHalves.close();
        }
        if (sliceHalves != null) {
            sliceHalves.close();
        }
        if (blockSums != null) {
            blockSums.close();
        }
    }
}
