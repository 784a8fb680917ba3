package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.gguf.GgufTensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A read-only weight matrix W [rows, cols], row-major, in one {@link GgmlType} (GGUF shape ne[0] = cols,
 * ne[1] = rows). A quantization format is a subclass that knows how to decode its blocks.
 *
 * <p><b>Storage.</b> At load the GGUF bytes are repacked once into heap arrays in a layout the Vector API
 * reads fast (Java 17 has no MemorySegment, and {@code ByteVector.fromArray} on heap arrays is the fast
 * portable path): e.g. Q8_0 becomes {@code byte[] quants} + {@code float[] scales}. The quantized size is
 * kept (Q6_K grows from 6.6 to 10 bits per weight, the others stay within a few percent); weights are
 * never expanded to one float per weight.
 *
 * <p><b>Batched matmul.</b> {@link #matmul} computes x [n, cols] · Wᵀ → out [n, rows]. Rows are spread
 * over the {@link WorkerPool} in tasks of 8. From six tokens on, x is packed once per call into tiles of
 * six tokens (for each group of LANES columns the six tokens' vectors back to back), each task decodes its
 * 8 rows once into a per-thread float buffer, and every four rows (AVX-512: 32 vector registers) or pair
 * of rows (AVX2: 16) meet every token tile in a register kernel ({@code SimdFloatKernels.tile4x6}: 24
 * accumulators, or {@code tile2x6}: twelve; every load at a constant offset from one of two running
 * indices). So every weight block is read from memory and decoded once per call whatever n is, and then
 * reused from cache for all n tokens. Measured on the
 * 2-core AVX2 build machine (one thread, CPU time, Q8_0 576×1536, n = 32): 1.06 ms (54 GFLOP/s) against
 * 1.62 ms (35 GFLOP/s) with the earlier 2-row × 4-token tile over row-major arrays, whose six base
 * offsets cost the JIT the registers it needs (the kernel alone, in L1: ~60-80 GFLOP/s, FMA peak ~87).
 * Two to five tokens (a six-token tile would be mostly padding) take the 2 × 4 tile on AVX2 and, on
 * AVX-512, one token's row sets with a 4-row tile per set ({@link #fourRowsTokensSimd}; Q8_0, Q6_K, Q3_K,
 * IQ4 and BF16 decode each weight once for all the tokens, Q4_0, Q4_K and the 32-group scale-and-min types for
 * two and three; Q8_0, F16, Q6_K, Q3_K and IQ4 keep those passes up to eight tokens and BF16 up to twelve,
 * {@link #packedMinTokens}). For one token (decode) rows go four at a time (four FMA chains share each x
 * load); the quantized types fuse the decoding into that loop. From six tokens on (or the type's own limit),
 * the last token tile, when it holds one to four tokens, runs {@code tile4x2Packed} or {@code tile4x4Packed}
 * over the packed slots, not tile4x6 over padding.
 *
 * <p><b>Batch invariance.</b> Every path computes a (row, token) element with the same float operations:
 * the weight decoded exactly as {@link #dequantizeRow}'s vector twin does, one FMA chain over the columns
 * in order, the lane sum, then the scalar tail. So a token's result is bitwise the same alone, in any
 * batch, at any position, and from {@link #dot}: greedy decoding does not change with batching. (The
 * price: the n = 1 kernel multiplies each weight by its block scale instead of scaling a block's partial
 * sum: Q8_0 576×1536 103 µs instead of 76 µs while in cache, within ~15% once weights stream from memory.)
 *
 * <p><b>Why float decoding, not int8 activations.</b> llama.cpp quantizes x to int8 per 32-block and uses
 * integer dot products. Java 17's Vector API has no int8 dot instruction (no vpmaddubsw / vpdpbusd), so
 * the int8 products must be widened to int16 and int32 by hand. Measured on the 2-core AVX2 build machine
 * ({@code Q8ActivationExperiment}, one thread, CPU time), Q8_0 576×1536: float decode 108 µs, int8
 * activations 194 µs; 2048×8192: 2.3 ms vs 4.5 ms, and int8 x adds 0.5% relative error. Weight bytes
 * are widened to float lanes with one 64-bit load + B2F convert per 8 weights (a 256-bit load split
 * into parts was 2× slower), Q4 nibbles after widening to int lanes (AVX2 has no byte shifts).
 */
public abstract class Matrix {

    /** Below this many multiply-adds a matmul runs on the calling thread (parallel hand-off costs more). */
    private static final long PARALLEL_MIN_WORK = 1L << 17;
    /**
     * Rows per parallel task (a multiple of four, so no row tile straddles tasks). Eight, not sixteen: eight decoded
     * rows of 576 floats (18 KiB) and a six-token tile of x (13.5 KiB) fit L1 together, where sixteen rows
     * stream from L2 once per tile (decode step at 32 sequences of SmolLM2-135M: 107 ms against 111 ms).
     */
    private static final int TASK_ROWS = 8;
    /** From this many tokens on, rows are decoded once and reused (below, fused dot per token). */
    static final int DECODE_ONCE_MIN_TOKENS = 2;

    /**
     * From this many tokens on, the vector matmul packs x and the weights for {@link SimdFloatKernels#tile2x6}
     * (below, a six-token tile would be mostly padding and the 2-row × 4-token tile is as fast).
     */
    static final int PACKED_MIN_TOKENS = 6;

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);
    /** Per-thread buffers of the packed batched kernel: a tile's accumulators; the caller's packed x. */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> X_PACK = ThreadLocal.withInitial(() -> new float[0]);

    protected final int rows;
    protected final int cols;
    protected final String name;

    protected Matrix(int rows, int cols, String name) {
        this.rows = rows;
        this.cols = cols;
        this.name = name;
    }

    /**
     * Builds the matrix of a GGUF tensor from its bytes ({@code data} from its position, little-endian).
     *
     * @throws GgufFormatException when the type has no kernels here (naming the tensor and the supported
     *                             types) or the buffer is shorter than rows × cols elements of the type
     */
    public static Matrix of(GgmlType type, ByteBuffer data, int rows, int cols, String name) {
        if (!type.supported()) {
            throw new GgufFormatException("tensor '" + name + "' has type " + type + ", which the runtime cannot "
                    + "compute with; supported types: " + GgmlType.supportedTypes());
        }
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("tensor '" + name + "': rows and cols must be > 0, got "
                    + rows + " x " + cols);
        }
        if (cols % type.blockSize() != 0) {
            throw new GgufFormatException("tensor '" + name + "' of type " + type + " has " + cols
                    + " columns, expected a multiple of the block size " + type.blockSize());
        }
        long elements = (long) rows * cols;
        if (elements > Integer.MAX_VALUE - 1024) {
            throw new GgufFormatException("tensor '" + name + "' has " + elements + " elements; matrices of 2^31 "
                    + "elements or more are not supported");
        }
        long bytes = type.bytesFor(elements);
        if (data.remaining() < bytes) {
            throw new GgufFormatException("tensor '" + name + "': " + rows + " x " + cols + " " + type + " needs "
                    + bytes + " bytes, the buffer has " + data.remaining());
        }
        ByteBuffer b = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        return switch (type) {
            case F32 -> F32Matrix.load(b, rows, cols, name);
            case F16 -> F16Matrix.load(b, rows, cols, name);
            case BF16 -> BF16Matrix.load(b, rows, cols, name);
            case Q8_0 -> Q8_0Matrix.load(b, rows, cols, name);
            case Q4_0 -> Q4_0Matrix.load(b, rows, cols, name);
            case Q4_K -> Q4_KMatrix.load(b, rows, cols, name);
            case Q6_K, Q3_K, IQ4_NL, IQ4_XS -> ScaleMatrix.load(type, b, rows, cols, name);
            case Q4_1, Q5_0, Q5_1, Q5_K, Q2_K -> ScaleMinMatrix.load(type, b, rows, cols, name);
            default -> throw new AssertionError(type);
        };
    }

    /**
     * The matrix of a GGUF tensor: ne[0] columns × ne[1] rows (a 1-D tensor such as a norm weight is one
     * row). Errors name the file and the tensor.
     */
    public static Matrix of(GgufFile file, String tensorName) {
        GgufTensorInfo t = file.tensor(tensorName);
        for (int i = 2; i < t.dims(); i++) {
            if (t.ne(i) != 1) {
                throw new GgufFormatException(file.path() + ": tensor '" + tensorName + "' has shape "
                        + java.util.Arrays.toString(t.shape()) + ", expected a matrix (at most 2 dimensions)");
            }
        }
        if (t.ne(0) > Integer.MAX_VALUE || t.ne(1) > Integer.MAX_VALUE) {
            throw new GgufFormatException(file.path() + ": tensor '" + tensorName + "' has shape "
                    + java.util.Arrays.toString(t.shape()) + ", too large for a matrix");
        }
        try {
            return of(t.type(), file.tensorData(tensorName), (int) t.ne(1), (int) t.ne(0), tensorName);
        } catch (GgufFormatException e) {
            throw new GgufFormatException(file.path() + ": " + e.getMessage(), e);
        }
    }

    /** Wraps (does not copy) a row-major float array. */
    public static Matrix ofF32(float[] data, int rows, int cols) {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException("float[" + data.length + "] is not " + rows + " x " + cols);
        }
        return new F32Matrix(data, rows, cols, "f32[" + rows + "x" + cols + "]");
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public String name() {
        return name;
    }

    public abstract GgmlType type();

    /** Decodes row {@code row} into dst[dstOffset .. dstOffset+cols) (e.g. an embedding lookup). */
    public abstract void dequantizeRow(int row, float[] dst, int dstOffset);

    /** The quant planes this matrix holds (Q8_0, Q4_K, Q6_K), or null for other types. */
    public QuantPlanes planes() {
        return null;
    }

    /** W[row, :] · x[xOffset .. xOffset+cols), bitwise equal to the matching element of {@link #matmul}. */
    public float dot(int row, float[] x, int xOffset) {
        checkRow(row);
        if (xOffset < 0 || xOffset + cols > x.length) {
            throw new IndexOutOfBoundsException("x[" + xOffset + " .. " + (xOffset + cols) + ") of length " + x.length);
        }
        return VectorApiSupport.ENABLED && vectorKernels() ? dotSimd(row, x, xOffset) : dotScalar(row, x, xOffset);
    }

    /**
     * out[t·rows + r] = Σ_c W[r, c] · x[t·cols + c] for t < n, r < rows: x is [n, cols] and out is [n, rows],
     * both row-major.
     */
    public void matmul(float[] x, float[] out, int n) {
        matmul(x, out, n, VectorApiSupport.ENABLED && vectorKernels());
    }

    /**
     * Whether the vector kernels give this matrix's products (and each product the same bits at any token count):
     * true but for an F16 matrix holding an infinity or NaN, whose fast half conversion would make those finite.
     */
    boolean vectorKernels() {
        return true;
    }

    /** {@link #matmul} with the kernel family chosen by the caller (tests compare the two). */
    void matmul(float[] x, float[] out, int n, boolean simd) {
        if (n <= 0) {
            throw new IllegalArgumentException("n must be > 0, got " + n);
        }
        if ((long) n * cols > x.length || (long) n * rows > out.length) {
            throw new IllegalArgumentException(name + ": matmul of " + n + " tokens needs x[" + (long) n * cols
                    + "] and out[" + (long) n * rows + "], got x[" + x.length + "] and out[" + out.length + "]");
        }
        int tasks = (rows + TASK_ROWS - 1) / TASK_ROWS;
        boolean serial = (long) rows * cols * n < PARALLEL_MIN_WORK || tasks == 1 || WorkerPool.threads() == 1;
        if (simd && n >= packedMinTokens()) {
            // x packed once here, on the calling thread; the tasks only read it
            int tiles = (n + SimdFloatKernels.PACKED_TOKENS - 1) / SimdFloatKernels.PACKED_TOKENS;
            float[] xp = buffer(X_PACK, tiles * SimdFloatKernels.PACKED_TOKENS * (cols - cols % SimdFloatKernels.LANES));
            SimdFloatKernels.packTokens(x, n, cols, xp);
            if (serial) {
                // still TASK_ROWS at a time: the rows decoded for a pass over the token tiles must stay in cache
                for (int r0 = 0; r0 < rows; r0 += TASK_ROWS) {
                    packedRows(x, xp, out, n, r0, Math.min(rows, r0 + TASK_ROWS));
                }
            } else {
                WorkerPool.parallelFor(0, tasks,
                        t -> packedRows(x, xp, out, n, t * TASK_ROWS, Math.min(rows, (t + 1) * TASK_ROWS)));
            }
            return;
        }
        if (simd && (n == 1 || SimdFloatKernels.TILE_ROWS == 4)) {
            matvec(x, out, n, serial);
            return;
        }
        if (serial) {
            matmulRows(x, out, n, 0, rows, simd);
        } else {
            WorkerPool.parallelFor(0, tasks,
                    t -> matmulRows(x, out, n, t * TASK_ROWS, Math.min(rows, (t + 1) * TASK_ROWS), simd));
        }
    }

    /**
     * Rows [r0, r1) of a batched matmul (n ≥ {@link #PACKED_MIN_TOKENS}) with x already packed into xp: the
     * rows are decoded once into a per-thread buffer (F32 rows are used in place) and every four rows
     * ({@link SimdFloatKernels#TILE_ROWS} 4) or pair of rows meet every packed tile of six tokens in
     * {@link SimdFloatKernels#tile4x6} or {@link SimdFloatKernels#tile2x6}. Token tiles outermost: one
     * tile (6 × cols floats) stays in L1 while it meets all the task's row pairs (TASK_ROWS × cols floats,
     * in L2), so each weight is decoded once per call and read from cache once per six tokens.
     */
    private void packedRows(float[] x, float[] xp, float[] out, int n, int r0, int r1) {
        int count = r1 - r0;
        int groups = cols / SimdFloatKernels.LANES;
        float[] direct = floatRows();
        float[] w = direct != null ? direct : scratch(count * cols); // [count, cols]
        int wBase = direct != null ? r0 * cols : 0;
        if (direct == null) {
            for (int i = 0; i < count; i++) {
                dequantizeRowSimd(r0 + i, w, i * cols);
            }
        }
        float[] acc = buffer(ACC, 4 * SimdFloatKernels.PACKED_TOKENS * SimdFloatKernels.LANES); // [4 rows, 6 tokens, LANES]
        int tileStride = groups * SimdFloatKernels.PACKED_TOKENS * SimdFloatKernels.LANES;
        for (int t0 = 0, tile = 0; t0 < n; t0 += SimdFloatKernels.PACKED_TOKENS, tile++) {
            int tokens = Math.min(SimdFloatKernels.PACKED_TOKENS, n - t0);
            int i = 0;
            if (SimdFloatKernels.TILE_ROWS == 4) {
                for (; i + 4 <= count; i += 4) {
                    int wa = wBase + i * cols;
                    // a last tile of 1-4 tokens skips the padding slots: same chains, fewer FMAs
                    if (tokens <= 2) {
                        SimdFloatKernels.tile4x2Packed(w, wa, cols, xp, tile * tileStride, groups, acc);
                    } else if (tokens <= 4) {
                        SimdFloatKernels.tile4x4Packed(w, wa, cols, xp, tile * tileStride, groups, acc);
                    } else {
                        SimdFloatKernels.tile4x6(w, wa, cols, xp, tile * tileStride, groups, acc);
                    }
                    SimdFloatKernels.finishTile4(acc, w, wa, cols, x, cols, groups * SimdFloatKernels.LANES,
                            t0, tokens, out, r0 + i, rows);
                }
            }
            for (; i < count; i += 2) {
                boolean two = i + 1 < count;
                int wa = wBase + i * cols;
                int wb = two ? wa + cols : wa;
                SimdFloatKernels.tile2x6(w, wa, wb, xp, tile * tileStride, groups, acc);
                SimdFloatKernels.finishTile(acc, w, wa, wb, x, cols, groups * SimdFloatKernels.LANES,
                        t0, tokens, out, r0 + i, rows, two);
            }
        }
    }

    /**
     * One token (decode): rows in sets of four in {@link #fourRowsSimd}, the last rows % 4 rows in pairs. A type
     * whose kernel reads its four rows side by side gets rows a quarter of the matrix apart, i, i + q, i + 2q,
     * i + 3q with q = rows / 4: each task then reads four row-major runs of its rows, long enough for the
     * hardware prefetcher to follow, where four adjacent rows are four streams of a few cache lines each that
     * it never learns (576 columns: 9 lines a row). Measured on the 2-core AVX-512 machine, Q8_0, two threads,
     * weights streaming from memory: 1536 × 576 10.1 → 19.7 GMAC/s, 49152 × 576 (SmolLM2's output) 8.4 → 21.1,
     * 2048 × 8192 18.4 → 21.1. The arithmetic per row is unchanged.
     *
     * <p>Two to five tokens on AVX-512 take the same row sets, each decoded once into a per-thread buffer (or in
     * registers, where the type fuses it) and met by all the tokens in a 4-row register tile. The AVX2 path
     * ({@link #matmulRows}: tasks of 8 adjacent rows, decoded two at a time) took 2.8 times one token's time for
     * two tokens at the Llama-3.2-1B shape: decoding into the buffer cost more than the products.
     */
    private void matvec(float[] x, float[] out, int n, boolean serial) {
        int sets = rows / 4;
        int parts = Math.min(WorkerPool.threads(), sets);
        if (serial || parts <= 1) {
            rowSets(x, out, n, sets, 0, sets);
        } else {
            // one contiguous part per thread: the longest runs (eight smaller parts were 10-15 % slower)
            WorkerPool.parallelFor(0, parts, p -> rowSets(x, out, n, sets,
                    (int) ((long) sets * p / parts), (int) ((long) sets * (p + 1) / parts)));
        }
        if (4 * sets < rows) {
            matmulRows(x, out, n, 4 * sets, rows, true);
        }
    }

    /**
     * How many of the {@code left} tokens (two or more) the next pass of a fused {@link #fourRowsTokensSimd} takes
     * when its kernels take 2 to {@code widest} (3 or more) tokens: all of them if it can, else the widest while two or more
     * would remain, else all but two, as no kernel takes one (five as 3 + 2; four as 2 + 2 and seven as 3 + 2 + 2
     * when the widest is 3).
     */
    static int fewTokenPass(int left, int widest) {
        if (left < 2 || widest < 3) {
            throw new IllegalArgumentException("2 or more tokens in passes of up to 3 or more, got " + left + " and "
                    + widest);
        }
        return left <= widest ? left : left - widest >= 2 ? widest : left - 2;
    }

    /**
     * From how many tokens on this matrix's vector product takes the packed tiles ({@link #PACKED_MIN_TOKENS});
     * below, the row sets of {@link #matvec}. A type whose {@link #fourRowsTokensSimd} fuses decoding into passes
     * of 2-4 tokens may keep those passes longer: they read each weight from memory once and widen it in
     * registers once per pass, where the packed path writes every decoded row to a buffer first.
     */
    int packedMinTokens() {
        return PACKED_MIN_TOKENS;
    }

    /**
     * {@link #packedMinTokens} for a type whose fused passes beat the packed tiles up to {@code tokens}: on AVX-512
     * only, where {@link #matvec} takes them (AVX2's 2-row tiles were measured against the packed path from six).
     */
    static int fusedPassesUpTo(int tokens) {
        return SimdFloatKernels.TILE_ROWS == 4 ? tokens + 1 : PACKED_MIN_TOKENS;
    }

    /**
     * {@link #fourRowsSimd} for 2 to {@link #packedMinTokens} - 1 tokens (x and out row-major, [n, cols] and
     * [n, rows]), on AVX-512 only: the tiles take 4 rows × up to 4 tokens in 16 accumulators. The default decodes
     * the four rows into a per-thread buffer first; a type may fuse decoding into the loop (each weight decoded
     * once for all the tokens of a pass) as long as it computes the same floats.
     */
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        float[] direct = floatRows();
        float[] w = direct != null ? direct : scratch(4 * cols);
        int wo = 0;
        int rowStride = cols;
        if (direct != null) {
            wo = r * cols;
            rowStride = stride * cols;
        } else {
            for (int k = 0; k < 4; k++) {
                dequantizeRowSimd(r + k * stride, w, k * cols);
            }
        }
        int t = 0;
        for (; t + 4 <= n; t += 4) {
            SimdFloatKernels.tile4x4(w, wo, rowStride, x, t * cols, cols, out, t * rows + r, stride, rows);
        }
        if (t + 2 <= n) {
            SimdFloatKernels.tile4x2(w, wo, rowStride, x, t * cols, cols, out, t * rows + r, stride, rows);
            t += 2;
        }
        if (t < n) {
            SimdFloatKernels.tile4x1(w, wo, rowStride, x, t * cols, cols, out, t * rows + r, stride);
        }
    }

    /**
     * Row sets [i0, i1) of {@link #matvec}: set i is rows i, i + q, i + 2q, i + 3q (q = sets) when the type reads
     * its four rows together ({@link #readsFourRowsTogether}), else rows 4i .. 4i + 3.
     */
    private void rowSets(float[] x, float[] out, int n, int sets, int i0, int i1) {
        boolean spread = readsFourRowsTogether();
        for (int i = i0; i < i1; i++) {
            int r = spread ? i : 4 * i;
            int stride = spread ? sets : 1;
            if (n == 1) {
                fourRowsSimd(r, stride, x, out);
            } else {
                fourRowsTokensSimd(r, stride, x, n, out);
            }
        }
    }

    /**
     * Whether {@link #fourRowsSimd} reads its four rows side by side (F32 rows in place, types that fuse decoding
     * into it). The default decodes one row after the other into a buffer, which reads best when the four
     * rows are adjacent: one run of memory.
     */
    boolean readsFourRowsTogether() {
        return floatRows() != null;
    }

    /** Rows [r0, r1) of the matmul. */
    void matmulRows(float[] x, float[] out, int n, int r0, int r1, boolean simd) {
        if (!simd) {
            float[] w = scratch(cols);
            for (int r = r0; r < r1; r++) {
                dequantizeRow(r, w, 0);
                for (int t = 0; t < n; t++) {
                    out[t * rows + r] = VectorMath.dotScalar(w, 0, x, t * cols, cols);
                }
            }
            return;
        }
        float[] direct = floatRows();
        if (n == 1) {
            // the rows matvec leaves over: in pairs
            float[] w = direct != null ? direct : scratch(2 * cols);
            for (int r = r0; r < r1; r += 2) {
                boolean two = r + 1 < r1;
                int wa = direct != null ? r * cols : 0;
                int wb = two ? wa + cols : wa;
                if (direct == null) {
                    dequantizeRowSimd(r, w, 0);
                    if (two) {
                        dequantizeRowSimd(r + 1, w, cols);
                    }
                }
                SimdFloatKernels.tile2x1(w, wa, wb, x, 0, cols, out, r, two);
            }
            return;
        }
        float[] w = direct != null ? direct : scratch(2 * cols);
        for (int r = r0; r < r1; r += 2) {
            boolean two = r + 1 < r1;
            int wa;
            int wb;
            if (direct != null) {
                wa = r * cols;
                wb = two ? wa + cols : wa;
            } else {
                dequantizeRowSimd(r, w, 0);
                if (two) {
                    dequantizeRowSimd(r + 1, w, cols);
                }
                wa = 0;
                wb = two ? cols : 0;
            }
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                SimdFloatKernels.tile2x4(w, wa, wb, x, t * cols, cols, out, t * rows + r, rows, two);
            }
            if (t + 2 <= n) {
                SimdFloatKernels.tile2x2(w, wa, wb, x, t * cols, cols, out, t * rows + r, rows, two);
                t += 2;
            }
            if (t < n) {
                SimdFloatKernels.tile2x1(w, wa, wb, x, t * cols, cols, out, t * rows + r, two);
            }
        }
    }

    /**
     * out[r + k·stride] = W[r + k·stride, :] · x[0 .. cols) for k &lt; 4 with the arithmetic of the batched tiles
     * (each weight decoded exactly as {@link #dequantizeRowSimd} does, one FMA chain per row in column order),
     * so a token's result does not depend on the batch it is in. The default decodes the rows into a
     * per-thread buffer; a type may fuse decoding into the loop as long as it computes the same floats.
     */
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        float[] direct = floatRows();
        if (direct != null) {
            SimdFloatKernels.tile4x1(direct, r * cols, stride * cols, x, 0, cols, out, r, stride);
            return;
        }
        float[] w = scratch(4 * cols);
        for (int i = 0; i < 4; i++) {
            dequantizeRowSimd(r + i * stride, w, i * cols);
        }
        SimdFloatKernels.tile4x1(w, 0, cols, x, 0, cols, out, r, stride);
    }

    /** Plain-loop dot product (scalar fallback; the default decodes the row first). */
    float dotScalar(int row, float[] x, int xOffset) {
        float[] w = scratch(cols);
        dequantizeRow(row, w, 0);
        return VectorMath.dotScalar(w, 0, x, xOffset, cols);
    }

    /** Vector API dot product: bitwise the value matmul computes for this row and token. */
    float dotSimd(int row, float[] x, int xOffset) {
        float[] direct = floatRows();
        if (direct != null) {
            return SimdFloatKernels.rowDot(direct, row * cols, x, xOffset, cols);
        }
        float[] w = scratch(cols);
        dequantizeRowSimd(row, w, 0);
        return SimdFloatKernels.rowDot(w, 0, x, xOffset, cols);
    }

    /** Vector API row decode; defaults to the plain one. */
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        dequantizeRow(row, dst, dstOffset);
    }

    /** The row-major float array of the weights when they are stored as floats (F32), else null. */
    float[] floatRows() {
        return null;
    }

    void checkRow(int row) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException(name + ": row " + row + " of " + rows);
        }
    }

    /** A per-thread float buffer of at least {@code size} (contents undefined). */
    static float[] scratch(int size) {
        return buffer(SCRATCH, size);
    }

    private static float[] buffer(ThreadLocal<float[]> local, int size) {
        float[] s = local.get();
        if (s.length < size) {
            s = new float[size];
            local.set(s);
        }
        return s;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", " + rows + " x " + cols + "]";
    }
}
