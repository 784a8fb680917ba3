package io.inferstream.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.tensor.Matrix;
import io.inferstream.runtime.tensor.QuantPlanes;
import io.inferstream.runtime.tensor.WorkerPool;

/**
 * A weight matrix W [rows, cols] in device memory, in a type the kernels read directly: F32, F16 and BF16
 * as the GGUF stores them, Q8_0 split into int8 quants [rows * cols] and float scales [rows * cols / 32],
 * Q4_K and Q6_K either as the CPU holds them ({@link QuantPlanes}: quants, and per group a float scale, for Q4_K
 * interleaved with its min) or decoded to F16, and every other quantization decoded to F16 at upload.
 * {@link #matmul} computes y [n, rows] = x [n, cols] . W^T.
 */
public final class DeviceMatrix implements AutoCloseable {

    /** Up to this many tokens one warp per weight row serves all of them (the kernel's register tile). */
    static final int MATVEC_MAX_TOKENS = 8;

    /** Which kernel computes a product (tests compare each against the CPU). */
    enum Kernel { MATVEC, TILED, WMMA, SKINNY, SKINNY_SMEM, SKINNY_PIPE, SKINNY_PIPE_DEEP, STREAM, STREAM_DEEP, STREAM_WIDE,
        STREAM_PACKED, STREAM_WIDE_PACKED, STREAM_TALL_PACKED, STREAM_SLICES, STREAM_PACKED_SLICES, STREAM_TALL_PACKED_SLICES,
        STREAM_QUANT }

    private final GgmlType type; // F32, F16, BF16, Q8_0, Q4_K or Q6_K
    private final int rows;
    private final int cols;
    private final String name;
    private final DeviceBuffer data;
    private final DeviceBuffer scales; // Q8_0: [n / 32]; Q4_K: (scale, min) [n / 32][2]; Q6_K: [n / 16]; else null
    private DeviceBuffer packed; // a copy rearranged for the _packed streaming kernels (packForStream), or null
    private DeviceBuffer packedWg; // a copy rearranged for the sm_90a module's kernels (packForWgmma), or null

    private DeviceMatrix(GgmlType type, int rows, int cols, String name, DeviceBuffer data, DeviceBuffer scales) {
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.name = name;
        this.data = data;
        this.scales = scales;
    }

    /**
     * The type a matrix of {@code source} type has on the device: K-quants stay Q4_K / Q6_K when {@code kQuants},
     * else they are decoded to F16 like the other quantizations.
     */
    static GgmlType deviceType(GgmlType source, boolean f32ToBf16, boolean kQuants) {
        return switch (source) {
            case F32 -> f32ToBf16 ? GgmlType.BF16 : GgmlType.F32;
            case F16, BF16, Q8_0 -> source;
            case Q4_K, Q6_K -> kQuants ? source : GgmlType.F16;
            default -> GgmlType.F16;
        };
    }

    /** Device bytes of a rows x cols matrix of {@code source} type. */
    static long deviceBytes(GgmlType source, boolean f32ToBf16, boolean kQuants, int rows, int cols) {
        long n = (long) rows * cols;
        return switch (deviceType(source, f32ToBf16, kQuants)) {
            case F32 -> 4 * n;
            case Q8_0 -> n + n / 32 * 4;
            case Q4_K -> n / 2 + n / 32 * 8; // nibbles, (scale, min) per 32
            case Q6_K -> n + n / 16 * 4;     // int8, scale per 16
            default -> 2 * n;
        };
    }

    /**
     * Uploads {@code cpu} (loaded from {@code raw}, its GGUF bytes, little-endian from the buffer's position).
     * F32 becomes BF16 when {@code f32ToBf16}; K-quants and Q4_0 are decoded to F16 through the CPU matrix.
     */
    public static DeviceMatrix upload(Matrix cpu, ByteBuffer raw, boolean f32ToBf16) {
        return upload(cpu, raw, f32ToBf16, false);
    }

    /**
     * Like {@link #upload(Matrix, ByteBuffer, boolean)}; with {@code kQuants}, Q4_K and Q6_K matrices keep the CPU's
     * planes (about 0.75 and 1.25 bytes a weight instead of F16's 2), read by the matvec, tiled and embedding kernels.
     */
    public static DeviceMatrix upload(Matrix cpu, ByteBuffer raw, boolean f32ToBf16, boolean kQuants) {
        int rows = cpu.rows();
        int cols = cpu.cols();
        long n = (long) rows * cols;
        GgmlType source = cpu.type();
        GgmlType target = deviceType(source, f32ToBf16, kQuants);
        String name = cpu.name();
        if (target == source && (source == GgmlType.Q4_K || source == GgmlType.Q6_K)) {
            QuantPlanes p = cpu.planes();
            DeviceBuffer d = DeviceBuffer.allocate(p.quants().length, name);
            float[] s = kernelScales(p);
            DeviceBuffer sc = DeviceBuffer.allocate(4L * s.length, name + " scales");
            d.upload(p.quants());
            sc.upload(s, s.length);
            return new DeviceMatrix(target, rows, cols, name, d, sc);
        }
        if (target == source && source != GgmlType.Q8_0) {
            DeviceBuffer d = DeviceBuffer.allocate(deviceBytes(source, f32ToBf16, kQuants, rows, cols), name);
            d.upload(raw, d.bytes());
            return new DeviceMatrix(target, rows, cols, name, d, null);
        }
        if (source == GgmlType.Q8_0) {
            // ggml block_q8_0 = {half d; int8 qs[32]} (34 bytes)
            ByteBuffer b = raw.slice().order(ByteOrder.LITTLE_ENDIAN);
            int blocks = (int) (n / 32);
            byte[] q = new byte[(int) n];
            float[] s = new float[blocks];
            for (int i = 0; i < blocks; i++) {
                s[i] = Float16.toFloat(b.getShort(i * 34));
                b.get(i * 34 + 2, q, i * 32, 32);
            }
            DeviceBuffer d = DeviceBuffer.allocate(n, name);
            d.upload(q);
            DeviceBuffer sc = DeviceBuffer.allocate(4L * blocks, name + " scales");
            sc.upload(s, blocks);
            return new DeviceMatrix(GgmlType.Q8_0, rows, cols, name, d, sc);
        }
        // Decoded on the host (F32 -> BF16, or a K-quant -> F16) into one short array.
        short[] halves = halves(cpu, target);
        DeviceBuffer d = DeviceBuffer.allocate(2 * n, name);
        d.upload(halves);
        return new DeviceMatrix(target, rows, cols, name, d, null);
    }

    /** The scales of {@code p} as the kernels read them (common.cuh weight_at): Q4_K's scale and min of a group side by side. */
    static float[] kernelScales(QuantPlanes p) {
        if (p.mins() == null) {
            return p.scales();
        }
        float[] s = new float[2 * p.scales().length];
        for (int g = 0; g < p.scales().length; g++) {
            s[2 * g] = p.scales()[g];
            s[2 * g + 1] = p.mins()[g];
        }
        return s;
    }

    /**
     * Every weight of {@code cpu} as {@code target} (F16 or BF16) bits, row-major [rows * cols]: each row decoded by
     * the matrix ({@link Matrix#dequantizeRow}) and rounded to nearest even. Blocks of rows run on the worker pool
     * (one thread took 9 s for Llama-3.2-1B in Q4_K on the 2-core build machine, 13 times the CPU model's own load).
     */
    static short[] halves(Matrix cpu, GgmlType target) {
        if (target != GgmlType.F16 && target != GgmlType.BF16) {
            throw new IllegalArgumentException("16-bit target type F16 or BF16, not " + target);
        }
        int rows = cpu.rows();
        int cols = cpu.cols();
        short[] halves = new short[Math.multiplyExact(rows, cols)];
        int rowsPerTask = Math.max(1, (1 << 18) / cols); // about 256 K weights a task
        int tasks = (rows + rowsPerTask - 1) / rowsPerTask;
        WorkerPool.parallelFor(0, tasks, t -> {
            float[] row = new float[cols];
            for (int r = t * rowsPerTask; r < Math.min(rows, (t + 1) * rowsPerTask); r++) {
                cpu.dequantizeRow(r, row, 0);
                int o = r * cols;
                for (int c = 0; c < cols; c++) {
                    halves[o + c] = target == GgmlType.BF16 ? Float16.floatToBf16(row[c]) : Float16.fromFloat(row[c]);
                }
            }
        });
        return halves;
    }

    public GgmlType type() {
        return type;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    DeviceBuffer data() {
        return data;
    }

    /** Q8_0 scales, else null. */
    DeviceBuffer scales() {
        return scales;
    }

    /**
     * Device bytes of a rows x cols matrix packed for the _packed streaming kernels (stream.cu, pack_stream_weights):
     * whole 16-row groups, rounded up to 16 of them (one 16-warp block), of whole 64-column tiles of 2 KB.
     */
    static long packedBytes(int rows, int cols) {
        long groups = (rows + 255L) / 256 * 16;
        long tiles = (cols + SkinnyScratch.STREAM_KC - 1) / SkinnyScratch.STREAM_KC;
        return groups * tiles * 16 * SkinnyScratch.STREAM_KC * 2;
    }

    /** Whether the streaming product can read this matrix from a packed copy (16-bit, rows of whole 16-byte pieces). */
    boolean packable() {
        return (type == GgmlType.BF16 || type == GgmlType.F16) && SkinnyScratch.streamFits(rows, cols);
    }

    /**
     * Writes the packed copy the _packed streaming kernels read (once; the row-major data stays for the other
     * kernels). Returns the bytes allocated (0 when it was there already).
     */
    long packForStream(CudaKernels k) {
        if (packed != null) {
            return 0;
        }
        DeviceBuffer p = packingBuffer(" (packed)");
        try {
            k.launch("pack_stream_weights", packingGrid(), 1, 256, 0, data, p, rows, cols, packingGroups());
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        packed = p;
        return p.bytes();
    }

    /**
     * Writes the copy the sm_90a module's _packed kernels read (pack_stream_weights_wg: the same tiles as
     * {@link #packForStream}, each piece a k16 step's A fragment of a warpgroup MMA), once. Returns the bytes allocated
     * (0 when it was there already).
     */
    long packForWgmma(CudaKernels k) {
        if (packedWg != null) {
            return 0;
        }
        DeviceBuffer p = packingBuffer(" (packed for wgmma)");
        try {
            k.launch(CudaKernels.WGMMA + "pack_stream_weights_wg", packingGrid(), 1, 256, 0, data, p, rows, cols,
                    packingGroups());
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        packedWg = p;
        return p.bytes();
    }

    /** A buffer of {@link #packedBytes} for a packed copy, once this matrix is known to be packable. */
    private DeviceBuffer packingBuffer(String label) {
        if (!packable()) {
            throw new IllegalArgumentException(name + ": only BF16/F16 matrices with cols a multiple of 8 are packed for the "
                    + "streaming product; got " + type + " " + rows + " x " + cols);
        }
        return DeviceBuffer.allocate(packedBytes(rows, cols), name + label);
    }

    /** Row groups of a packed copy: whole 256-row blocks of 16-row groups (any block's warps stay inside). */
    private int packingGroups() {
        return (rows + 255) / 256 * 16;
    }

    /** Blocks of 256 threads for the packers, a thread per 16-byte piece (grid-stride beyond 65535). */
    private int packingGrid() {
        return (int) Math.min(65535, (packedBytes(rows, cols) / 16 + 255) / 256);
    }

    /** Frees the packed copies, if any. */
    void dropPacked() {
        dropPackedMma();
        dropPackedWgmma();
    }

    /** Frees the mma.sync kernels' packed copy, if any. */
    void dropPackedMma() {
        if (packed != null) {
            packed.close();
            packed = null;
        }
    }

    /** Frees the wgmma packing, if any. */
    void dropPackedWgmma() {
        if (packedWg != null) {
            packedWg.close();
            packedWg = null;
        }
    }

    /** Whether the streaming products read the wgmma packing under {@code s} (and so the sm_90a module's kernels). */
    boolean readsWgmmaPacking(SkinnyScratch s) {
        return s != null && s.kernels.streaming && s.kernels.packed && s.kernels.wgmma && packedWg != null;
    }

    /**
     * The packed copy the streaming products read under {@code s}: the wgmma packing where the sm_90a kernels run,
     * else the mma.sync one; null where they read the row-major data.
     */
    DeviceBuffer packedFor(SkinnyScratch s) {
        if (readsWgmmaPacking(s)) {
            return packedWg;
        }
        return s != null && s.kernels.streaming && s.kernels.packed ? packed : null;
    }

    /** The weights the streaming product reads under {@code s}: the packed copy where one is used, else the data. */
    DeviceBuffer streamData(SkinnyScratch s) {
        DeviceBuffer p = packedFor(s);
        return p != null ? p : data;
    }

    /** Whether the wgmma packing is on the device. */
    boolean hasWgmmaPacking() {
        return packedWg != null;
    }

    /** Whether a packed copy is on the device. */
    boolean hasPacked() {
        return packed != null;
    }

    /** Device bytes of the matrix as uploaded (a packed copy not included). */
    public long bytes() {
        return data.bytes() + (scales == null ? 0 : scales.bytes());
    }

    /** y [n, rows] = x [n, cols] . W^T, with the kernel chosen by n and the type. */
    public void matmul(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n) {
        Kernel kernel = n <= MATVEC_MAX_TOKENS ? Kernel.MATVEC
                : (type == GgmlType.BF16 || type == GgmlType.F16) ? Kernel.WMMA : Kernel.TILED;
        matmul(k, x, y, n, kernel);
    }

    /** Like {@link #matmul(CudaKernels, DeviceBuffer, DeviceBuffer, int)}, using the skinny product where it applies. */
    void matmul(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch skinny) {
        matmul(k, x, y, n, skinny, false);
    }

    /**
     * Whether {@link #matmul(CudaKernels, DeviceBuffer, DeviceBuffer, int, SkinnyScratch)} of {@code n} tokens runs the
     * streaming product, which reads x as the padded 16-bit copy in {@code s.halves} ([streamPad(n), cols] in this
     * matrix's type): then a kernel producing x may write that copy itself (the norms' and the SwiGLU reduction's
     * _h kernels) and the product skip its conversion.
     */
    boolean readsHalves(int n, SkinnyScratch s) {
        return s != null && s.kernels.streaming && (n > MATVEC_MAX_TOKENS || s.kernels.small) && n >= 1
                && n <= SkinnyScratch.MAX_TOKENS
                && (type == GgmlType.BF16 || type == GgmlType.F16) && SkinnyScratch.fits(rows, cols)
                && SkinnyScratch.streamFits(rows, cols);
    }

    /** The suffix of the kernels for this matrix's 16-bit type ("bf16" or "f16"). */
    String halfSuffix() {
        return type == GgmlType.BF16 ? "bf16" : "f16";
    }

    /**
     * The product; with {@code halvesReady} x was already written to {@code skinny.halves} as {@link #readsHalves}
     * describes (x itself is not read) and the conversion is skipped.
     */
    void matmul(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch skinny, boolean halvesReady) {
        if (takesQuantStream(n, skinny)) { // never halvesReady: readsHalves is for 16-bit matrices
            quantStream(k, x, y, n, skinny);
            return;
        }
        if (halvesReady) {
            requireReadsHalves(n, skinny);
            streamProduct(k, x, y, n, skinny, true, true);
            return;
        }
        if (skinny != null && (n > MATVEC_MAX_TOKENS || (skinny.kernels.streaming && skinny.kernels.small))
                && n <= SkinnyScratch.MAX_TOKENS
                && (type == GgmlType.BF16 || type == GgmlType.F16) && SkinnyScratch.fits(rows, cols)) {
            skinny(k, x, y, n, skinny);
        } else if (n > SkinnyScratch.MAX_TOKENS && takesSlices(skinny)) {
            slices(k, x, y, n, skinny);
        } else {
            matmul(k, x, y, n);
        }
    }

    /**
     * Whether the quantized tensor-core product can take this matrix: Q8_0 in whole 32-value blocks per row
     * (matmul_stream_q8), or Q4_K / Q6_K kept as planes in whole 64-value chunks (matmul_stream_q4_k / _q6_k).
     */
    boolean quantStreamable() {
        return type == GgmlType.Q8_0 && cols % 32 == 0
                || (type == GgmlType.Q4_K || type == GgmlType.Q6_K) && cols % 64 == 0;
    }

    /** Whether a product of {@code n} tokens runs the quantized tensor-core product under {@code s}: 9+ tokens, chosen at load. */
    boolean takesQuantStream(int n, SkinnyScratch s) {
        return s != null && s.kernels.quant && n > MATVEC_MAX_TOKENS && quantStreamable();
    }

    /**
     * y [n, rows] = x [n, cols] . W^T for Q8_0 or Q4_K weights on tensor cores (stream.cu, matmul_stream_q8 /
     * matmul_stream_q4_k): x rounded to F16 and padded to whole 8-token tiles (for Q4_K also its per-32 block sums,
     * half_block_sums), then for up to 64 tokens ceil(rows / 128) x splits blocks (matmul_stream's default split policy)
     * and splitk_reduce, or, for more, 64-token slices of one launch (the _slices kernels).
     */
    void quantStream(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch s) {
        if (n < 1 || !quantStreamable()) {
            throw new IllegalArgumentException(name + ": the quantized tensor-core product needs Q8_0 weights in whole "
                    + "32-value blocks or Q4_K / Q6_K in whole 64-value chunks; got " + type + " " + rows + " x " + cols + ", "
                    + n + " tokens");
        }
        boolean q4 = type == GgmlType.Q4_K;
        int npad = streamPad(n);
        int blocks = (rows + 127) / 128;
        DeviceBuffer xh = n <= SkinnyScratch.MAX_TOKENS ? s.halves : s.sliceHalves(n, cols);
        long elems = (long) npad * cols;
        k.launch("to_half_padded_f16", (int) Math.min(65535, (elems + 255) / 256), 1, 256, 0, x, xh, n, npad, cols);
        DeviceBuffer sums = null;
        if (q4) {
            sums = s.blockSums(n, cols);
            long count = (long) (cols / 64) * npad * 2;
            k.launch("half_block_sums", (int) Math.min(65535, (count + 255) / 256), 1, 256, 0, xh, sums, npad, cols);
        }
        if (n > SkinnyScratch.MAX_TOKENS) {
            if (q4) {
                k.launch("matmul_stream_q4_k_slices", blocks, (n + 63) / 64, 256, 0, data, scales, xh, sums, y, n, rows, cols);
            } else {
                k.launch(type == GgmlType.Q6_K ? "matmul_stream_q6_k_slices" : "matmul_stream_q8_slices", blocks, (n + 63) / 64,
                        256, 0, data, scales, xh, y, n, rows, cols);
            }
            return;
        }
        int chunk = SkinnyScratch.streamChunk(rows, cols, false);
        int splits = SkinnyScratch.streamSplits(rows, cols, false);
        DeviceBuffer out = splits == 1 ? y : s.partial;
        int nOut = splits == 1 ? n : npad; // one split writes y [n, rows] itself
        if (q4) {
            k.launch("matmul_stream_q4_k", blocks, splits, 256, 0, data, scales, xh, sums, out, npad / 8, nOut, rows, cols, chunk);
        } else {
            k.launch(type == GgmlType.Q6_K ? "matmul_stream_q6_k" : "matmul_stream_q8", blocks, splits, 256, 0, data, scales, xh,
                    out, npad / 8, nOut, rows, cols, chunk);
        }
        if (splits == 1) {
            return;
        }
        int outs = n * rows;
        k.launch("splitk_reduce", Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, y, n, npad, rows, splits);
    }

    /** The split-K tensor-core product for n <= 64 tokens (see matmul.cu); the scratch must fit this matrix. */
    void skinny(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch s) {
        if (s.kernels.streaming) {
            stream(k, x, y, n, s);
            return;
        }
        if (n > SkinnyScratch.MAX_TOKENS || !SkinnyScratch.fits(rows, cols) || (type != GgmlType.BF16 && type != GgmlType.F16)) {
            throw new IllegalArgumentException(name + ": the skinny product needs BF16/F16, rows and cols multiples of 16 "
                    + "and at most 64 tokens; got " + type + " " + rows + " x " + cols + ", " + n + " tokens");
        }
        String suffix = type == GgmlType.BF16 ? "bf16" : "f16";
        int tiles = (n + 15) / 16;
        int npad = tiles * 16;
        int chunk = s.kChunk(rows, cols);
        int splits = s.splits(rows, cols);
        int elems = npad * cols;
        k.launch("to_half_padded_" + suffix, Math.min(65535, (elems + 255) / 256), 1, 256, 0, x, s.halves, n, npad, cols);
        k.launch(s.kernels.kernelPrefix() + suffix, (rows / 16 + 3) / 4, splits, 128, 0, data,
                s.halves, s.partial, tiles, rows, cols, chunk);
        int outs = n * rows;
        k.launch("splitk_reduce", Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, y, n, npad, rows, splits);
    }

    /**
     * The weight-streaming product (stream.cu) for 1..64 tokens: x rounded to 16 bits and padded to whole 8-token
     * tiles, matmul_stream over ceil(rows / 128) x splits blocks, then splitk_reduce; with one split the blocks
     * write y themselves. Needs BF16/F16 weights and cols % 8 == 0 (16-byte aligned rows); any rows.
     */
    void stream(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch s) {
        streamProduct(k, x, y, n, s, true, false);
    }

    /** Whether products of more than 64 tokens run as matmul_stream_slices under {@code s} (else the tiled WMMA kernel). */
    boolean takesSlices(SkinnyScratch s) {
        return s != null && s.kernels.streaming && s.kernels.slicedPrefill && packable();
    }

    /**
     * y [n, rows] = x [n, cols] . W^T for any n as 64-token slices of one matmul_stream_slices launch (stream.cu): x
     * rounded to 16 bits and padded to whole 8-token tiles, then grid (ceil(rows / 128), ceil(n / 64)), each block one
     * K range over all cols, writing y itself. Reads the packed copy where {@code s} says packed and there is one, with
     * 32-row warps (256-row blocks) where {@code s} runs them for decode and their grid fills the SMs.
     */
    void slices(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch s) {
        if (n < 1 || !SkinnyScratch.streamFits(rows, cols) || (type != GgmlType.BF16 && type != GgmlType.F16)) {
            throw new IllegalArgumentException(name + ": the sliced streaming product needs BF16/F16 weights and cols a "
                    + "multiple of 8; got " + type + " " + rows + " x " + cols + ", " + n + " tokens");
        }
        String suffix = halfSuffix();
        int npad = (n + 7) / 8 * 8;
        DeviceBuffer xh = s.sliceHalves(n, cols);
        long elems = (long) npad * cols;
        k.launch("to_half_padded_" + suffix, (int) Math.min(65535, (elems + 255) / 256), 1, 256, 0, x, xh, n, npad, cols);
        DeviceBuffer pk = packedFor(s);
        boolean fromPacked = pk != null;
        int slices = (n + 63) / 64;
        // as decode: where 256-row blocks fill the SMs
        boolean tall = s.kernels.tall(fromPacked, (long) ((rows + 255) / 256) * slices);
        String kernel = (readsWgmmaPacking(s) ? CudaKernels.WGMMA : "") + "matmul_stream_" + (tall ? "tall_" : "")
                + (fromPacked ? "packed_" : "") + "slices_" + suffix;
        k.launch(kernel, tall ? (rows + 255) / 256 : (rows + 127) / 128, slices, 256, 0, fromPacked ? pk : data, xh, y, n,
                rows, cols);
    }

    private void requireReadsHalves(int n, SkinnyScratch s) {
        if (!readsHalves(n, s)) {
            throw new IllegalStateException(name + ": x was written as 16-bit activations for the streaming product, "
                    + "but " + n + " tokens do not take it here");
        }
    }

    /**
     * {@link #stream}; without {@code reduce}, several splits stop at the partial sums and their count is returned;
     * with {@code converted} the activations are already in {@code s.halves}.
     */
    private int streamProduct(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch s, boolean reduce,
                              boolean converted) {
        if (n < 1 || n > SkinnyScratch.MAX_TOKENS || !SkinnyScratch.streamFits(rows, cols)
                || (type != GgmlType.BF16 && type != GgmlType.F16)) {
            throw new IllegalArgumentException(name + ": the streaming product needs BF16/F16 weights, cols a multiple of 8 "
                    + "and 1..64 tokens; got " + type + " " + rows + " x " + cols + ", " + n + " tokens");
        }
        ProductSwitches ks = s.kernels;
        String suffix = type == GgmlType.BF16 ? "bf16" : "f16";
        int tiles8 = (n + 7) / 8;
        int npad = tiles8 * 8;
        int chunk = s.kChunk(rows, cols);   // matmul_stream's policy (default or deep)
        int splits = s.splits(rows, cols);
        int elems = npad * cols;
        DeviceBuffer pk = packedFor(s);
        boolean fromPacked = pk != null;
        boolean tall = ks.tall(fromPacked, SkinnyScratch.tallBlocks(rows, cols, ks.streamWide, ks.deepSplit));
        int rowsPerBlock = tall ? 256 : SkinnyScratch.streamRows(ks.streamWide);
        int blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        String kernel = (readsWgmmaPacking(s) ? CudaKernels.WGMMA : "") + "matmul_stream_"
                + (tall ? "tall_" : ks.streamWide ? "wide_" : "") + (fromPacked ? "packed_" : "") + suffix;
        DeviceBuffer weights = fromPacked ? pk : data;
        int threads = tall ? 256 : rowsPerBlock * 2; // one warp per 16 rows, or per 32 (tall)
        if (!converted) {
            k.launch("to_half_padded_" + suffix, Math.min(65535, (elems + 255) / 256), 1, 256, 0, x, s.halves, n, npad, cols);
        }
        if (splits == 1) { // y [n, rows] is the layout of one split's partial sums cut to n tokens
            k.launch(kernel, blocks, 1, threads, 0, weights, s.halves, y, tiles8, n, rows, cols, chunk);
            return 0;
        }
        k.launch(kernel, blocks, splits, threads, 0, weights, s.halves, s.partial, tiles8, npad, rows, cols, chunk);
        if (!reduce) {
            return splits;
        }
        int outs = n * rows;
        k.launch("splitk_reduce", Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, y, n, npad, rows, splits);
        return 0;
    }

    /**
     * Like {@link #matmul(CudaKernels, DeviceBuffer, DeviceBuffer, int, SkinnyScratch)}, but where the streaming product
     * runs with several K splits it stops before the reduction: returns the splits, whose partial sums
     * [splits, npad, rows] (npad = {@link #streamPad}) are left in {@code skinny.partial} for a kernel that reduces them
     * itself (add_rmsnorm_splitk_vec); returns 0 where y was written as usual.
     */
    int matmulPartials(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, SkinnyScratch skinny, boolean halvesReady) {
        if (readsHalves(n, skinny) && skinny.splits(rows, cols) > 1) {
            return streamProduct(k, x, y, n, skinny, false, halvesReady);
        }
        matmul(k, x, y, n, skinny, halvesReady);
        return 0;
    }

    /** Tokens of the streaming product's padded activations and partial sums: whole 8-token tiles. */
    static int streamPad(int n) {
        return (n + 7) / 8 * 8;
    }

    /** Whether the skinny product of {@code n} tokens applies to this matrix. */
    boolean takesSkinny(int n) {
        return n > MATVEC_MAX_TOKENS && n <= SkinnyScratch.MAX_TOKENS && (type == GgmlType.BF16 || type == GgmlType.F16)
                && SkinnyScratch.fits(rows, cols);
    }

    /** Whether {@link #skinnyGroup} can serve these matrices for {@code n} tokens (same type and cols, each skinny). */
    static boolean groupable(int n, DeviceMatrix... ms) {
        for (DeviceMatrix m : ms) {
            if (m == null || !m.takesSkinny(n) || m.type != ms[0].type || m.cols != ms[0].cols) {
                return false;
            }
        }
        return true;
    }

    /** Partial-sum floats of a grouped product of these matrices. */
    static long groupPartialFloats(DeviceMatrix... ms) {
        long f = 0;
        for (DeviceMatrix m : ms) {
            f += SkinnyScratch.partialFloats(m.rows, m.cols);
        }
        return f;
    }

    /**
     * The skinny products of the same x [n, cols] with 2 or 3 matrices in three launches in all (one conversion of
     * x, matmul_skinny_group, one reduction), bit for bit the results of separate matmul_skinny_pipe products.
     * With {@code swiglu} (2 matrices, gate and up, of the same rows) ys[0] = silu(x . gate^T) * (x . up^T) and
     * ys[1] is unused; otherwise ys[m] = x . ms[m]^T. Needs {@link #groupable} and a scratch of
     * {@link #groupPartialFloats} floats.
     */
    static void skinnyGroup(CudaKernels k, DeviceMatrix[] ms, DeviceBuffer x, DeviceBuffer[] ys, int n, SkinnyScratch s,
                            boolean swiglu) {
        skinnyGroup(k, ms, x, ys, n, s, swiglu, false, false);
    }

    /**
     * {@link #skinnyGroup(CudaKernels, DeviceMatrix[], DeviceBuffer, DeviceBuffer[], int, SkinnyScratch, boolean)} with
     * the streaming product: {@code halvesReady}, x is already in {@code s.halves} (written by a norm's _h kernel) and
     * is not converted again; {@code halvesOut} (SwiGLU only), the reduction also writes ys[0] into {@code s.halves} for
     * the next product ({@link #readsHalves}, in the type of these matrices).
     */
    static void skinnyGroup(CudaKernels k, DeviceMatrix[] ms, DeviceBuffer x, DeviceBuffer[] ys, int n, SkinnyScratch s,
                            boolean swiglu, boolean halvesReady, boolean halvesOut) {
        if (halvesOut && !swiglu) {
            throw new IllegalArgumentException("only the SwiGLU reduction writes 16-bit activations");
        }
        if (swiglu && (ms.length != 2 || ms[0].rows != ms[1].rows)) {
            throw new IllegalArgumentException("SwiGLU needs gate and up of the same rows; got " + java.util.Arrays.toString(ms));
        }
        int[] splits = skinnyGroupPartials(k, ms, x, n, s, halvesReady);
        String suffix = ms[0].halfSuffix();
        int npad = DeviceMatrix.groupPad(n, s);
        int[] rows = {ms[0].rows, ms[1].rows, ms.length > 2 ? ms[2].rows : 0};
        if (swiglu && halvesOut) { // the partial sums are read before any of s.halves is written: launches are ordered
            int outs = npad * rows[0];
            k.launch("splitk_reduce_swiglu_h_" + suffix, Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, ys[0],
                    s.halves, n, npad, rows[0], splits[0], splits[1]);
        } else if (swiglu) {
            int outs = n * rows[0];
            k.launch("splitk_reduce_swiglu", Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, ys[0], n, npad,
                    rows[0], splits[0], splits[1]);
        } else {
            int outs = n * (rows[0] + rows[1] + rows[2]);
            k.launch("splitk_reduce_group", Math.min(65535, (outs + 255) / 256), 1, 256, 0, s.partial, ys[0], ys[1],
                    ms.length > 2 ? ys[2] : null, n, npad, rows[0], rows[1], rows[2], splits[0], splits[1], splits[2]);
        }
    }

    /** Tokens of a grouped product's padded activations and partial sums: whole tiles of the kernel in use. */
    static int groupPad(int n, SkinnyScratch s) {
        int tile = s.kernels.tileTokens();
        return (n + tile - 1) / tile * tile;
    }

    /**
     * The grouped product without its reduction: the conversion of x (unless {@code halvesReady}) and one
     * matmul_skinny_group / matmul_stream(_wide)_group launch, leaving matrix m's partial sums [splits[m], npad, rows_m]
     * (npad = {@link #groupPad}) one after the other in {@code s.partial} for a kernel that reduces them itself
     * (splitk_reduce_rope_kv for Q/K/V). Returns the split counts (0 for a missing third matrix).
     */
    static int[] skinnyGroupPartials(CudaKernels k, DeviceMatrix[] ms, DeviceBuffer x, int n, SkinnyScratch s,
                                     boolean halvesReady) {
        return skinnyGroupLaunch(k, ms, x, n, s, halvesReady, s.halves, GroupEpilogue.PARTIALS);
    }

    /**
     * The grouped streaming product reducing its own partial sums ({@link GroupEpilogue}): one launch (after the
     * conversion of x into {@code xh}, unless {@code halvesReady}: then xh holds them) where skinnyGroup and
     * skinnyGroupPartials + splitk_reduce_rope_kv take two, with the same bits. xh may not be the epilogue's 16-bit
     * output (the product still reads it while finished tiles write theirs): with one, x's go to s.stagedHalves.
     */
    static void skinnyGroupReduced(CudaKernels k, DeviceMatrix[] ms, DeviceBuffer x, int n, SkinnyScratch s,
                                   boolean halvesReady, DeviceBuffer xh, GroupEpilogue e) {
        if (!s.kernels.streaming || s.counters == null) {
            throw new IllegalStateException("a grouped product reduces its own sums only in the streaming kernels, with the "
                    + "scratch's arrival counters");
        }
        if (e.kind() == GroupEpilogue.SWIGLU && (ms.length != 2 || ms[0].rows != ms[1].rows)) {
            throw new IllegalArgumentException("SwiGLU needs gate and up of the same rows; got " + java.util.Arrays.toString(ms));
        }
        if (e.kind() == GroupEpilogue.ROPE_KV && ms.length != 3) {
            throw new IllegalArgumentException("RoPE and the KV write need Wq, Wk and Wv; got " + java.util.Arrays.toString(ms));
        }
        if ((e.kind() == GroupEpilogue.RESIDUAL) != (ms.length == 1)) {
            throw new IllegalArgumentException("the residual add is the epilogue of one matrix (Wo or down); got "
                    + java.util.Arrays.toString(ms));
        }
        if (e.kind() == GroupEpilogue.NONE || (e.yh() != null && e.yh() == xh)) {
            throw new IllegalArgumentException(e.kind() == GroupEpilogue.NONE ? "no reduction asked for"
                    : "the product's own 16-bit activations cannot be its output's");
        }
        skinnyGroupLaunch(k, ms, x, n, s, halvesReady, xh, e);
    }

    private static int[] skinnyGroupLaunch(CudaKernels k, DeviceMatrix[] ms, DeviceBuffer x, int n, SkinnyScratch s,
                                           boolean halvesReady, DeviceBuffer xh, GroupEpilogue e) {
        if (halvesReady && !s.kernels.streaming) {
            throw new IllegalStateException("16-bit activations written by their producer need the streaming product");
        }
        if ((ms.length != 2 && ms.length != 3 && !(ms.length == 1 && e.kind() == GroupEpilogue.RESIDUAL)) || !groupable(n, ms)) {
            throw new IllegalArgumentException("a grouped skinny product needs 2 or 3 BF16/F16 matrices of the same cols "
                    + "(rows and cols multiples of 16) and 9..64 tokens; got " + java.util.Arrays.toString(ms) + ", " + n
                    + " tokens");
        }
        DeviceMatrix a = ms[0];
        ProductSwitches ks = s.kernels;
        String suffix = a.halfSuffix();
        int tiles = (n + ks.tileTokens() - 1) / ks.tileTokens();
        int npad = groupPad(n, s);
        // packed only where every matrix has the copy the launch reads: all the wgmma packing, or all mma.sync's
        boolean wg = true;
        boolean mma = ks.streaming && ks.packed;
        long tallBlocks = 0; // the blocks that do work in a tall launch
        for (DeviceMatrix m : ms) {
            wg &= m.readsWgmmaPacking(s);
            mma &= m.packed != null;
            tallBlocks += SkinnyScratch.tallBlocks(m.rows, m.cols, ks.streamWide, ks.deepSplit);
        }
        boolean fromPacked = wg || mma;
        boolean tall = ks.tall(fromPacked, tallBlocks);
        int rowsPerBlock = !ks.streaming ? 64 : tall ? 256 : SkinnyScratch.streamRows(ks.streamWide);
        int cols = a.cols;
        int[] rows = new int[3];
        int[] chunk = {64, 64, 64}; // unused matrix 2: any positive chunk
        int[] splits = new int[3];
        DeviceBuffer[] w = new DeviceBuffer[3];
        int blocks = 0;
        int maxSplits = 1;
        for (int m = 0; m < ms.length; m++) {
            rows[m] = ms[m].rows;
            chunk[m] = s.kChunk(rows[m], cols);
            splits[m] = s.splits(rows[m], cols);
            w[m] = wg ? ms[m].packedWg : mma ? ms[m].packed : ms[m].data;
            blocks += (rows[m] + rowsPerBlock - 1) / rowsPerBlock;
            maxSplits = Math.max(maxSplits, splits[m]);
        }
        int elems = npad * cols;
        if (!halvesReady) {
            k.launch("to_half_padded_" + suffix, Math.min(65535, (elems + 255) / 256), 1, 256, 0, x, xh, n, npad, cols);
        }
        String kernel = (!ks.streaming ? "matmul_skinny_group_"
                : (wg ? CudaKernels.WGMMA : "") + "matmul_stream_" + (tall ? "tall_" : ks.streamWide ? "wide_" : "")
                        + (fromPacked ? "packed_" : "") + "group_")
                + suffix;
        int threads = !ks.streaming ? 128 : tall ? 256 : rowsPerBlock * 2;
        Object[] args = {w[0], w[1], w[2], xh, s.partial, tiles, cols, rows[0], rows[1], rows[2], chunk[0], chunk[1], chunk[2]};
        if (ks.streaming) { // the streaming kernels take the epilogue's arguments after these
            Object[] epi = e.args(n, s.counters);
            Object[] all = java.util.Arrays.copyOf(args, args.length + epi.length);
            System.arraycopy(epi, 0, all, args.length, epi.length);
            args = all;
        }
        if (e.kind() == GroupEpilogue.NONE) {
            k.launch(kernel, blocks, maxSplits, threads, 0, args);
        } else { // grid (splits, row blocks): a tile's blocks are dispatched together (stream.cu: group_block)
            k.launch(kernel, maxSplits, blocks, threads, 0, args);
        }
        return splits;
    }

    /**
     * ya = x . a^T, yb = x . b^T and yc = x . c^T in one launch (matvec3_vec: the Q, K, V products of a decode
     * step) when all three are BF16 or all F16 with the same cols, a multiple of 8, and n <= 8 tokens; otherwise
     * three products of {@link #matmul(CudaKernels, DeviceBuffer, DeviceBuffer, int, SkinnyScratch)}.
     */
    static void matmul3(CudaKernels k, DeviceMatrix a, DeviceMatrix b, DeviceMatrix c, DeviceBuffer x, DeviceBuffer ya,
                        DeviceBuffer yb, DeviceBuffer yc, int n, SkinnyScratch skinny) {
        boolean fused = n <= MATVEC_MAX_TOKENS && (a.type == GgmlType.BF16 || a.type == GgmlType.F16)
                && b.type == a.type && c.type == a.type && a.cols % 8 == 0 && b.cols == a.cols && c.cols == a.cols;
        if (fused) {
            String suffix = a.type == GgmlType.BF16 ? "bf16" : "f16";
            int rows = a.rows + b.rows + c.rows;
            k.launch("matvec3_vec_" + suffix, (rows + 7) / 8, 1, 256, 0, a.data, b.data, c.data, x, ya, yb, yc, n,
                    a.rows, b.rows, c.rows, a.cols);
        } else {
            a.matmul(k, x, ya, n, skinny);
            b.matmul(k, x, yb, n, skinny);
            c.matmul(k, x, yc, n, skinny);
        }
    }

    void matmul(CudaKernels k, DeviceBuffer x, DeviceBuffer y, int n, Kernel kernel) {
        String suffix = switch (type) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_K -> "q4_k";
            case Q6_K -> "q6_k";
            default -> throw new AssertionError(type);
        };
        switch (kernel) {
            case MATVEC -> {
                if (n > MATVEC_MAX_TOKENS) {
                    throw new IllegalArgumentException("matvec serves at most " + MATVEC_MAX_TOKENS + " tokens, got " + n);
                }
                if ((type == GgmlType.BF16 || type == GgmlType.F16) && cols % 8 == 0) {
                    // 128-bit weight loads (16-byte aligned rows)
                    k.launch("matvec_vec_" + suffix, (rows + 7) / 8, 1, 256, 0, data, x, y, n, rows, cols);
                } else {
                    k.launch("matvec_" + suffix, (rows + 7) / 8, 1, 256, 0, data, scales, x, y, n, rows, cols);
                }
            }
            case TILED -> k.launch("matmul_tiled_" + suffix, (rows + 63) / 64, (n + 63) / 64, 256, 0,
                    data, scales, x, y, n, rows, cols);
            case WMMA -> {
                if (type != GgmlType.BF16 && type != GgmlType.F16) {
                    throw new IllegalArgumentException(name + ": tensor-core product needs BF16 or F16 weights, not " + type);
                }
                k.launch("matmul_wmma_" + suffix, (rows + 31) / 32, (n + 63) / 64, 128, 0, data, x, y, n, rows, cols);
            }
            case STREAM_SLICES, STREAM_PACKED_SLICES, STREAM_TALL_PACKED_SLICES -> {
                try (SkinnyScratch s = new SkinnyScratch(cols, SkinnyScratch.partialFloats(rows, cols))) {
                    ProductSwitches ks = s.kernels;
                    ks.streaming = true;
                    ks.slicedPrefill = true;
                    ks.packed = kernel != Kernel.STREAM_SLICES;
                    ks.streamTall = kernel == Kernel.STREAM_TALL_PACKED_SLICES;
                    ks.tallMinBlocks = 1; // tall wherever it applies: this is the kernel asked for
                    if (ks.packed) {
                        packForStream(k);
                    }
                    slices(k, x, y, n, s);
                    ContextLock.synchronizeCurrent();
                }
            }
            case SKINNY, SKINNY_SMEM, SKINNY_PIPE, SKINNY_PIPE_DEEP, STREAM, STREAM_DEEP, STREAM_WIDE, STREAM_PACKED,
                 STREAM_WIDE_PACKED, STREAM_TALL_PACKED -> {
                try (SkinnyScratch s = new SkinnyScratch(cols, SkinnyScratch.partialFloats(rows, cols))) {
                    ProductSwitches ks = s.kernels;
                    ks.streaming = kernel == Kernel.STREAM || kernel == Kernel.STREAM_DEEP || kernel == Kernel.STREAM_WIDE
                            || kernel == Kernel.STREAM_PACKED || kernel == Kernel.STREAM_WIDE_PACKED
                            || kernel == Kernel.STREAM_TALL_PACKED;
                    ks.streamWide = kernel == Kernel.STREAM_WIDE || kernel == Kernel.STREAM_WIDE_PACKED;
                    ks.packed = kernel == Kernel.STREAM_PACKED || kernel == Kernel.STREAM_WIDE_PACKED
                            || kernel == Kernel.STREAM_TALL_PACKED;
                    ks.streamTall = kernel == Kernel.STREAM_TALL_PACKED;
                    ks.tallMinBlocks = 1; // tall wherever it applies: this is the kernel asked for
                    if (ks.packed) {
                        packForStream(k);
                    }
                    ks.staged = kernel == Kernel.SKINNY_SMEM;
                    ks.pipelined = kernel == Kernel.SKINNY_PIPE || kernel == Kernel.SKINNY_PIPE_DEEP;
                    ks.deepSplit = kernel == Kernel.SKINNY_PIPE_DEEP || kernel == Kernel.STREAM_DEEP;
                    skinny(k, x, y, n, s);
                    ContextLock.synchronizeCurrent();
                }
            }
            case STREAM_QUANT -> {
                try (SkinnyScratch s = new SkinnyScratch(cols, SkinnyScratch.partialFloats(rows, cols))) {
                    quantStream(k, x, y, n, s); // any n: 64-token slices past 64
                    ContextLock.synchronizeCurrent();
                }
            }
            default -> throw new AssertionError(kernel);
        }
    }

    @Override
    public void close() {
        dropPacked();
        data.close();
        if (scales != null) {
            scales.close();
        }
    }

    @Override
    public String toString() {
        return "DeviceMatrix[" + name + ", " + type + ", " + rows + " x " + cols + "]";
    }
}
