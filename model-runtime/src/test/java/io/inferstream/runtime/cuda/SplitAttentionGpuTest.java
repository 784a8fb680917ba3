package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The split-context attention (attention_split_* + attention_split_combine) and the vectorised norms
 * (rmsnorm_vec, add_rmsnorm_vec) against float64 references computed here from the same inputs: paged causal
 * softmax(q k^T / sqrt(headDim)) v over shuffled KV blocks (F16 keys/values decoded exactly as the GPU reads them),
 * and x * w / sqrt(mean(x^2) + eps). Only float summation order separates the GPU from the reference.
 */
class SplitAttentionGpuTest {

    private static CudaDevice device;

    @BeforeEach
    void open() {
        device = CudaTestDevice.require();
    }

    /** Contexts of one batch: decode tokens of sequences at these lengths, then a 3-token prefill chunk. */
    private static final int[] CONTEXTS = {1, 15, 16, 17, 200, 1000};

    @ParameterizedTest(name = "{0} KV, head {1}, {2} heads / {3} KV heads, blocks of {4}, splits {5} (0: policy), window {6}, "
            + "soft cap {7}")
    @CsvSource({
        "F16, 64, 32, 8, 16, 0, 0, 0",   // the Llama-3.2-1B shape (groups of 4)
        "F32, 64, 32, 8, 16, 0, 0, 0",
        "F16, 64, 32, 8, 16, 16, 0, 0",
        "F16, 128, 8, 8, 16, 0, 0, 0",   // group 1
        "F32, 128, 16, 2, 16, 3, 0, 0",  // group 8
        "F16, 64, 8, 1, 16, 1, 0, 0",    // group 8, one split: the attention block writes the output itself
        "F16, 128, 12, 4, 4, 0, 0, 0",   // group 3 (kernel compiled for 4), blocks of 4
        "F32, 64, 6, 6, 7, 5, 0, 0",     // blocks of 7
        "F16, 8, 8, 4, 16, 0, 0, 0",     // head size 8 (one lane per position), group 2
        "F16, 256, 4, 1, 16, 2, 0, 0",   // head size 256 (a whole warp per position), group 4
        "F16, 64, 32, 8, 16, 0, 100, 0", // a sliding window of 100: contexts 200 and 1000 see their last 100 positions
        "F32, 128, 16, 2, 16, 3, 16, 0", // a window of one block, cut into splits
        "F16, 64, 6, 6, 7, 5, 31, 0",    // blocks of 7: windows that start inside a block
        "F16, 64, 32, 8, 16, 0, 0, 0.5", // Gemma 2's soft cap (0.5 binds on these scores)
        "F32, 128, 16, 2, 16, 3, 100, 0.5",
    })
    void splitAttentionMatchesTheFloat64Reference(String precision, int headDim, int nHeads, int nKvHeads, int blockSize,
                                                 int forcedSplits, int window, float softcap) {
        int n = CONTEXTS.length + 3;
        int[] positions = new int[n];
        int[] seq = new int[n];
        for (int t = 0; t < CONTEXTS.length; t++) {
            positions[t] = CONTEXTS[t] - 1;
            seq[t] = t;
        }
        for (int i = 0; i < 3; i++) { // a prefill chunk: positions 30..32 of one more sequence
            positions[CONTEXTS.length + i] = 30 + i;
            seq[CONTEXTS.length + i] = CONTEXTS.length;
        }
        check(precision.equals("F16"), headDim, nHeads, nKvHeads, blockSize, positions, seq, forcedSplits, window, softcap, 1e-5);
    }

    @Test
    void sixtyFourDecodeTokensOfRandomLengthsMatchTheReference() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 64;
        int[] positions = new int[n];
        int[] seq = new int[n];
        for (int t = 0; t < n; t++) {
            positions[t] = rnd.nextInt(300);
            seq[t] = t;
        }
        check(true, 64, 32, 8, 16, positions, seq, 0, 0, 0f, 1e-5);
    }

    @Test
    void launchRefusesStepsBeyondItsScratch() {
        try (SplitAttention split = new SplitAttention(8, 2, 64)) {
            split.ensure(4);
            assertThrows(IllegalStateException.class, () -> split.launch(device.kernels(), true, null, null, null, null,
                    null, null, 1, 16, null, 5, 1f, 1));
        }
    }

    private static void check(boolean f16, int headDim, int nHeads, int nKvHeads, int bs, int[] positions, int[] seq,
                              int forcedSplits, int window, float softcap, double bound) {
        PagedAttentionCase c = new PagedAttentionCase(headDim, nHeads, nKvHeads, bs, positions, seq,
                headDim * 31L + nHeads * 7L + nKvHeads + bs);
        int n = c.n;
        int qDim = nHeads * headDim;
        int maxBlocks = c.maxBlocks;
        float[] q = c.q;
        float[] keys = c.keys;
        float[] values = c.values;
        short[] keys16 = c.keys16;
        short[] values16 = c.values16;
        int[] meta = c.meta;
        double scale = 1.0 / Math.sqrt(headDim);
        float[] expected = c.reference(scale, window, softcap);
        int splits = forcedSplits > 0 ? forcedSplits : SplitAttention.splits(n, nKvHeads);
        try (SplitAttention split = new SplitAttention(nHeads, nKvHeads, headDim);
             DeviceBuffer qd = DeviceBuffer.allocate(4L * q.length, "q");
             DeviceBuffer kd = DeviceBuffer.allocate((f16 ? 2L : 4L) * keys.length, "keys");
             DeviceBuffer vd = DeviceBuffer.allocate((f16 ? 2L : 4L) * values.length, "values");
             DeviceBuffer md = DeviceBuffer.allocate(4L * meta.length, "metadata");
             DeviceBuffer out = DeviceBuffer.allocate(4L * n * qDim, "out")) {
            split.ensure(256);
            qd.upload(q, q.length);
            if (f16) {
                kd.upload(keys16);
                vd.upload(values16);
            } else {
                kd.upload(keys, keys.length);
                vd.upload(values, values.length);
            }
            md.upload(meta, meta.length);
            split.launch(device.kernels(), f16, qd, kd, vd, md.at(0), md.at(4L * n), md.at(8L * n), maxBlocks, bs, out, n,
                    (float) scale, splits, null, null, n, window, softcap);
            device.synchronize();
            float[] got = new float[n * qDim];
            out.download(got, got.length);
            double err = CudaTestDevice.relativeError(got, expected, got.length);
            assertTrue(err <= bound, "relative error " + err + " > " + bound + " (" + splits + " splits)");
            // every (token, head) on its own: a wrong split or head would hide in the norm of a large batch
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < nHeads; h++) {
                    int off = (t * nHeads + h) * headDim;
                    float[] a = java.util.Arrays.copyOfRange(got, off, off + headDim);
                    float[] b = java.util.Arrays.copyOfRange(expected, off, off + headDim);
                    double e = CudaTestDevice.relativeError(a, b, headDim);
                    assertTrue(e <= 1e-4, "token " + t + " (position " + positions[t] + "), head " + h
                            + ": relative error " + e);
                }
            }
            // The kernel that loads each round's rows a round ahead: the same arithmetic, so the same bits
            try (DeviceBuffer out3 = DeviceBuffer.allocate(4L * n * qDim, "out, rows a round ahead")) {
                split.prefetch = true;
                split.launch(device.kernels(), f16, qd, kd, vd, md.at(0), md.at(4L * n), md.at(8L * n), maxBlocks, bs, out3,
                        n, (float) scale, splits, null, null, n, window, softcap);
                split.prefetch = false;
                device.synchronize();
                float[] got3 = new float[n * qDim];
                out3.download(got3, got3.length);
                org.junit.jupiter.api.Assertions.assertArrayEquals(got, got3, "attention_split_pf: the bits of attention_split");
            }
            // With the 16-bit copy for the Wo product: the same out, and the copy bit for bit to_half_padded's (BF16
            // with F16 KV, F16 with F32 KV), padding rows zero (the copy starts as 0xFFFF, a NaN in both types)
            String half = f16 ? "bf16" : "f16";
            int npad = (n + 7) / 8 * 8 + 8;
            short[] poison = new short[npad * qDim];
            java.util.Arrays.fill(poison, (short) 0xFFFF);
            try (DeviceBuffer out2 = DeviceBuffer.allocate(4L * n * qDim, "out with halves");
                 DeviceBuffer h1 = DeviceBuffer.allocate(2L * npad * qDim, "to_half_padded of out");
                 DeviceBuffer h2 = DeviceBuffer.allocate(2L * npad * qDim, "halves written by the attention")) {
                h2.upload(poison);
                split.launch(device.kernels(), f16, qd, kd, vd, md.at(0), md.at(4L * n), md.at(8L * n), maxBlocks, bs, out2,
                        n, (float) scale, splits, h2, f16 ? io.inferstream.runtime.gguf.GgmlType.BF16
                                : io.inferstream.runtime.gguf.GgmlType.F16, npad, window, softcap);
                device.kernels().launch("to_half_padded_" + half, Math.min(65535, (npad * qDim + 255) / 256), 1, 256, 0, out,
                        h1, n, npad, qDim);
                device.synchronize();
                float[] got2 = new float[n * qDim];
                out2.download(got2, got2.length);
                org.junit.jupiter.api.Assertions.assertArrayEquals(got, got2, "out with the 16-bit copy written");
                short[] a = new short[npad * qDim];
                short[] b = new short[npad * qDim];
                h1.download(a, a.length);
                h2.download(b, b.length);
                org.junit.jupiter.api.Assertions.assertArrayEquals(a, b, half + " copy of out (" + splits + " splits)");
            }
            // The per-(token, head) kernels the model falls back on, against the same reference: attention_vec (head
            // sizes that are powers of two) and the scalar attention (any head size)
            String kv = f16 ? "f16" : "f32";
            int scalarWarps = 4;
            String[] kernels = (headDim & (headDim - 1)) == 0 ? new String[] {"attention_vec_" + kv, "attention_" + kv}
                    : new String[] {"attention_" + kv};
            for (String kernel : kernels) {
                out.poison();
                boolean vec = kernel.startsWith("attention_vec");
                device.kernels().launch(kernel, vec ? n * nHeads : (n * nHeads + scalarWarps - 1) / scalarWarps, 1,
                        vec ? 32 * ForwardPass.ATT_WARPS : 32 * scalarWarps, vec ? 0 : scalarWarps * headDim * 4, qd, kd, vd,
                        md.at(0), md.at(4L * n), md.at(8L * n), maxBlocks, bs, out, n, nHeads, nKvHeads, headDim,
                        (float) scale, window, softcap);
                device.synchronize();
                float[] per = new float[n * qDim];
                out.download(per, per.length);
                for (int t = 0; t < n; t++) {
                    for (int h = 0; h < nHeads; h++) {
                        int off = (t * nHeads + h) * headDim;
                        double e = CudaTestDevice.relativeError(java.util.Arrays.copyOfRange(per, off, off + headDim),
                                java.util.Arrays.copyOfRange(expected, off, off + headDim), headDim);
                        assertTrue(e <= 1e-4, kernel + ": token " + t + " (position " + positions[t] + "), head " + h
                                + ": relative error " + e);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "dim {0}, {1} rows, row indices {2}")
    @CsvSource({
        "2048, 64, false",
        "2048, 1, false",
        "4096, 17, false",
        "260, 5, true",   // 65 float4 pieces: the last thread's second piece is past the row
        "8, 3, true",
    })
    void vectorisedNormsMatchTheFloat64Reference(int dim, int rows, boolean indexed) {
        SplittableRandom rnd = new SplittableRandom(dim + rows);
        int srcRows = rows + 2;
        float[] x = new float[srcRows * dim];
        float[] y = new float[srcRows * dim];
        float[] w = new float[dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-3, 3);
            y[i] = (float) rnd.nextDouble(-3, 3);
        }
        for (int i = 0; i < dim; i++) {
            w[i] = (float) rnd.nextDouble(0.5, 1.5);
        }
        int[] rowIndex = new int[rows];
        for (int r = 0; r < rows; r++) {
            rowIndex[r] = indexed ? (r * 7 + 1) % srcRows : r;
        }
        float eps = 1e-5f;
        try (DeviceBuffer xd = DeviceBuffer.allocate(4L * x.length, "x");
             DeviceBuffer yd = DeviceBuffer.allocate(4L * y.length, "y");
             DeviceBuffer wd = DeviceBuffer.allocate(4L * dim, "w");
             DeviceBuffer rd = DeviceBuffer.allocate(4L * rows, "rows");
             DeviceBuffer out = DeviceBuffer.allocate(4L * x.length, "out")) {
            xd.upload(x, x.length);
            yd.upload(y, y.length);
            wd.upload(w, dim);
            rd.upload(rowIndex, rows);
            CudaKernels k = device.kernels();
            // rmsnorm_vec: out[r] = norm(x[rows[r]])
            k.launch("rmsnorm_vec", rows, 1, 256, 0, xd, indexed ? rd : null, wd, out, dim, eps);
            device.synchronize();
            float[] got = new float[rows * dim];
            out.download(got, got.length);
            float[] expected = new float[rows * dim];
            for (int r = 0; r < rows; r++) {
                norm(x, rowIndex[r] * dim, w, expected, r * dim, dim, eps);
            }
            double err = CudaTestDevice.relativeError(got, expected, got.length);
            assertTrue(err <= 1e-6, "rmsnorm_vec relative error " + err);
            // add_rmsnorm_vec with out == y (as the model calls it): x += y, y = norm(x)
            k.launch("add_rmsnorm_vec", rows, 1, 256, 0, xd, yd, wd, yd, dim, eps);
            device.synchronize();
            float[] gotX = new float[rows * dim];
            float[] gotY = new float[rows * dim];
            xd.download(gotX, gotX.length);
            yd.download(gotY, gotY.length);
            float[] sumX = new float[rows * dim];
            for (int i = 0; i < sumX.length; i++) {
                sumX[i] = x[i] + y[i];
            }
            float[] expectedY = new float[rows * dim];
            for (int r = 0; r < rows; r++) {
                norm(sumX, r * dim, w, expectedY, r * dim, dim, eps);
            }
            assertTrue(CudaTestDevice.relativeError(gotX, sumX, gotX.length) == 0, "add_rmsnorm_vec residual x + y");
            double errY = CudaTestDevice.relativeError(gotY, expectedY, gotY.length);
            assertTrue(errY <= 1e-6, "add_rmsnorm_vec relative error " + errY);
        }
    }

    /**
     * add_rmsnorm_splitk_vec (the Wo / down products' split-K reduction fused into the next norm) is bit for bit
     * splitk_reduce followed by add_rmsnorm_vec, for split counts and padded token counts as matmul_stream leaves them.
     */
    @ParameterizedTest(name = "dim {0}, {1} rows ({2} padded), {3} splits")
    @CsvSource({
        "2048, 64, 64, 8",
        "2048, 13, 16, 16",
        "2048, 9, 16, 2",
        "4096, 33, 40, 3",
        "260, 5, 8, 5",
    })
    void fusedSplitKNormIsTheReductionThenTheNorm(int dim, int rows, int npad, int splits) {
        SplittableRandom rnd = new SplittableRandom(dim * 31L + splits);
        float[] x = new float[rows * dim];
        float[] part = new float[splits * npad * dim];
        float[] w = new float[dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-3, 3);
        }
        for (int i = 0; i < part.length; i++) {
            part[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int i = 0; i < dim; i++) {
            w[i] = (float) rnd.nextDouble(0.5, 1.5);
        }
        float eps = 1e-5f;
        try (DeviceBuffer x1 = DeviceBuffer.allocate(4L * x.length, "x unfused");
             DeviceBuffer x2 = DeviceBuffer.allocate(4L * x.length, "x fused");
             DeviceBuffer pd = DeviceBuffer.allocate(4L * part.length, "partial sums");
             DeviceBuffer y1 = DeviceBuffer.allocate(4L * x.length, "y unfused");
             DeviceBuffer y2 = DeviceBuffer.allocate(4L * x.length, "y fused");
             DeviceBuffer wd = DeviceBuffer.allocate(4L * dim, "w")) {
            x1.upload(x, x.length);
            x2.upload(x, x.length);
            pd.upload(part, part.length);
            wd.upload(w, dim);
            CudaKernels k = device.kernels();
            int outs = rows * dim;
            k.launch("splitk_reduce", Math.min(65535, (outs + 255) / 256), 1, 256, 0, pd, y1, rows, npad, dim, splits);
            k.launch("add_rmsnorm_vec", rows, 1, 256, 0, x1, y1, wd, y1, dim, eps);
            k.launch("add_rmsnorm_splitk_vec", rows, 1, 256, 0, x2, pd, splits, npad, wd, y2, dim, eps);
            device.synchronize();
            float[] gotX1 = new float[x.length];
            float[] gotX2 = new float[x.length];
            float[] gotY1 = new float[x.length];
            float[] gotY2 = new float[x.length];
            x1.download(gotX1, gotX1.length);
            x2.download(gotX2, gotX2.length);
            y1.download(gotY1, gotY1.length);
            y2.download(gotY2, gotY2.length);
            org.junit.jupiter.api.Assertions.assertArrayEquals(gotX1, gotX2, "residual x + sum of the partial sums");
            org.junit.jupiter.api.Assertions.assertArrayEquals(gotY1, gotY2, "norm of the residual");
            // and against float64: x + sum over splits, then the norm
            float[] sumX = new float[x.length];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < dim; i++) {
                    double s = 0;
                    for (int sp = 0; sp < splits; sp++) {
                        s += part[(sp * npad + r) * dim + i];
                    }
                    sumX[r * dim + i] = (float) (x[r * dim + i] + s);
                }
            }
            assertTrue(CudaTestDevice.relativeError(gotX2, sumX, sumX.length) <= 1e-6, "residual against float64");
        }
    }

    /**
     * The _h norms (rmsnorm_vec_h_*, add_rmsnorm_vec_h_*, add_rmsnorm_splitk_vec_h_*) are bit for bit their norm
     * followed by to_half_padded: the same float outputs, the same 16-bit copy, and zero rows from n to npad (the
     * buffer starts as 0xFFFF, a NaN in both types, so a row left unwritten fails).
     */
    @ParameterizedTest(name = "{0}, dim {1}, {2} rows ({3} padded), {4} splits, row indices {5}")
    @CsvSource({
        "bf16, 2048, 64, 64, 8, false",
        "bf16, 2048, 13, 16, 2, true",
        "f16, 2048, 9, 16, 3, false",
        "f16, 260, 5, 8, 5, true",   // 65 float4 pieces: the last thread's second piece is past the row
        "bf16, 8, 1, 8, 1, true",
    })
    void normsThatWriteHalvesAreTheNormThenTheConversion(String type, int dim, int n, int npad, int splits,
                                                        boolean indexed) {
        SplittableRandom rnd = new SplittableRandom(dim * 7L + n);
        int srcRows = n + 2;
        float[] x = new float[srcRows * dim];
        float[] y = new float[n * dim];
        float[] part = new float[splits * npad * dim];
        float[] w = new float[dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-3, 3);
        }
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) rnd.nextDouble(-3, 3);
        }
        for (int i = 0; i < part.length; i++) {
            part[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int i = 0; i < dim; i++) {
            w[i] = (float) rnd.nextDouble(0.5, 1.5);
        }
        int[] rowIndex = new int[n];
        for (int r = 0; r < n; r++) {
            rowIndex[r] = indexed ? (r * 5 + 1) % srcRows : r;
        }
        short[] poison = new short[npad * dim];
        java.util.Arrays.fill(poison, (short) 0xFFFF);
        float eps = 1e-5f;
        CudaKernels k = device.kernels();
        try (DeviceBuffer x1 = DeviceBuffer.allocate(4L * x.length, "x separate");
             DeviceBuffer x2 = DeviceBuffer.allocate(4L * x.length, "x fused");
             DeviceBuffer y1 = DeviceBuffer.allocate(4L * npad * dim, "y separate");
             DeviceBuffer y2 = DeviceBuffer.allocate(4L * npad * dim, "y fused");
             DeviceBuffer h1 = DeviceBuffer.allocate(2L * npad * dim, "halves separate");
             DeviceBuffer h2 = DeviceBuffer.allocate(2L * npad * dim, "halves fused");
             DeviceBuffer pd = DeviceBuffer.allocate(4L * Math.max(1, part.length), "partial sums");
             DeviceBuffer rd = DeviceBuffer.allocate(4L * n, "rows");
             DeviceBuffer wd = DeviceBuffer.allocate(4L * dim, "w")) {
            pd.upload(part, part.length);
            rd.upload(rowIndex, n);
            wd.upload(w, dim);
            String[] kernels = {"rmsnorm_vec", "add_rmsnorm_vec", "add_rmsnorm_splitk_vec"};
            for (String kernel : kernels) {
                x1.upload(x, x.length);
                x2.upload(x, x.length);
                y1.upload(y, y.length);
                y2.upload(y, y.length);
                h2.upload(poison);
                switch (kernel) {
                    case "rmsnorm_vec" -> {
                        k.launch("rmsnorm_vec", n, 1, 256, 0, x1, indexed ? rd : null, wd, y1, dim, eps);
                        k.launch("rmsnorm_vec_h_" + type, npad, 1, 256, 0, x2, indexed ? rd : null, wd, y2, h2, n, dim, eps);
                    }
                    case "add_rmsnorm_vec" -> { // out == y, as the model calls it
                        k.launch("add_rmsnorm_vec", n, 1, 256, 0, x1, y1, wd, y1, dim, eps);
                        k.launch("add_rmsnorm_vec_h_" + type, npad, 1, 256, 0, x2, y2, wd, y2, h2, n, dim, eps);
                    }
                    default -> {
                        k.launch("add_rmsnorm_splitk_vec", n, 1, 256, 0, x1, pd, splits, npad, wd, y1, dim, eps);
                        k.launch("add_rmsnorm_splitk_vec_h_" + type, npad, 1, 256, 0, x2, pd, splits, npad, wd, y2, h2, n,
                                dim, eps);
                    }
                }
                k.launch("to_half_padded_" + type, Math.min(65535, (npad * dim + 255) / 256), 1, 256, 0, y1, h1, n, npad, dim);
                device.synchronize();
                float[][] xs = new float[2][x.length];
                float[][] ys = new float[2][n * dim];
                short[][] hs = new short[2][npad * dim];
                x1.download(xs[0], x.length);
                x2.download(xs[1], x.length);
                y1.download(ys[0], n * dim);
                y2.download(ys[1], n * dim);
                h1.download(hs[0], npad * dim);
                h2.download(hs[1], npad * dim);
                org.junit.jupiter.api.Assertions.assertArrayEquals(xs[0], xs[1], kernel + ": residual");
                org.junit.jupiter.api.Assertions.assertArrayEquals(ys[0], ys[1], kernel + ": norm");
                org.junit.jupiter.api.Assertions.assertArrayEquals(hs[0], hs[1], kernel + ": 16-bit copy (padding zero)");
                if (kernel.equals("rmsnorm_vec")) { // and against float64, so the pair compared is not wrong in the same way
                    float[] expected = new float[n * dim];
                    for (int r = 0; r < n; r++) {
                        norm(x, rowIndex[r] * dim, w, expected, r * dim, dim, eps);
                    }
                    assertTrue(CudaTestDevice.relativeError(ys[1], expected, expected.length) <= 1e-6, "rmsnorm_vec_h");
                }
            }
        }
    }

    private static void norm(float[] x, int off, float[] w, float[] out, int outOff, int dim, float eps) {
        double ss = 0;
        for (int i = 0; i < dim; i++) {
            ss += (double) x[off + i] * x[off + i];
        }
        double s = 1.0 / Math.sqrt(ss / dim + eps);
        for (int i = 0; i < dim; i++) {
            out[outOff + i] = (float) (w[i] * (s * x[off + i]));
        }
    }
}
