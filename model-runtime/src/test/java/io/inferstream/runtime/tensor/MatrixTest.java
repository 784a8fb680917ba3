package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.testing.SharedModels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Matrices against references: decoding against blocks built by hand from the ggml layouts, and
 * dot/matmul against float64 sums over the decoded weights.
 */
class MatrixTest {

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static float[] row(Matrix m, int r) {
        float[] out = new float[m.cols() + 3];
        m.dequantizeRow(r, out, 3); // at an offset, to check dstOffset is honoured
        float[] row = new float[m.cols()];
        System.arraycopy(out, 3, row, 0, m.cols());
        return row;
    }

    // ------------------------------------------------------------------ decoding hand-built blocks

    @Test
    void q8_0BlockDecodesAsScaleTimesQuant() {
        // 2 rows × 128 cols = 8 blocks; block i has d = 0.5·(i+1) and quants i·32 + j − 128: all of -128..127
        ByteBuffer b = le(8 * 34);
        for (int i = 0; i < 8; i++) {
            b.putShort(Float16.fromFloat(0.5f * (i + 1)));
            for (int j = 0; j < 32; j++) {
                b.put((byte) (i * 32 + j - 128));
            }
        }
        Matrix m = Matrix.of(GgmlType.Q8_0, b.flip(), 2, 128, "q8");
        for (int r = 0; r < 2; r++) {
            float[] got = row(m, r);
            for (int c = 0; c < 128; c++) {
                int block = r * 4 + c / 32;
                assertEquals(0.5f * (block + 1) * (block * 32 + c % 32 - 128), got[c], "r" + r + " c" + c);
            }
        }
    }

    @Test
    void q4_0BlockDecodesNibblesMinusEight() {
        ByteBuffer b = le(2 * 18);
        b.putShort(Float16.fromFloat(0.25f));
        for (int j = 0; j < 16; j++) {
            b.put((byte) (j | ((15 - j) << 4)));
        }
        b.putShort(Float16.fromFloat(-1.5f));
        for (int j = 0; j < 16; j++) {
            b.put((byte) ((j * 7 % 16) | ((j * 3 % 16) << 4)));
        }
        float[] got = row(Matrix.of(GgmlType.Q4_0, b.flip(), 1, 64, "q4"), 0);
        for (int j = 0; j < 16; j++) {
            assertEquals(0.25f * (j - 8), got[j]);
            assertEquals(0.25f * (15 - j - 8), got[16 + j]);
            assertEquals(-1.5f * (j * 7 % 16 - 8), got[32 + j]);
            assertEquals(-1.5f * (j * 3 % 16 - 8), got[48 + j]);
        }
    }

    @Test
    void q4_KBlockDecodesSixBitScalesAndMins() {
        // block_q4_K = {half d, half dmin, uint8 scales[12] (6-bit packed scales/mins), uint8 qs[128]}
        int[] sc = {1, 63, 17, 32, 5, 48, 33, 60};
        int[] mn = {0, 7, 63, 16, 40, 1, 31, 50};
        byte[] packed = new byte[12]; // packing as quantize_row_q4_K_ref writes it
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                packed[j] = (byte) sc[j];
                packed[j + 4] = (byte) mn[j];
            } else {
                packed[j + 4] = (byte) ((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
                packed[j - 4] |= (byte) ((sc[j] >> 4) << 6);
                packed[j] |= (byte) ((mn[j] >> 4) << 6);
            }
        }
        int[] q = new int[256];
        for (int e = 0; e < 256; e++) {
            q[e] = (e * 5 + e / 7) % 16;
        }
        ByteBuffer b = le(144);
        b.putShort(Float16.fromFloat(0.5f)).putShort(Float16.fromFloat(0.25f)).put(packed);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                b.put((byte) (q[c * 64 + l] | (q[c * 64 + 32 + l] << 4)));
            }
        }
        float[] got = row(Matrix.of(GgmlType.Q4_K, b.flip(), 1, 256, "q4k"), 0);
        for (int e = 0; e < 256; e++) {
            assertEquals(0.5f * sc[e / 32] * q[e] - 0.25f * mn[e / 32], got[e], 1e-6, "element " + e);
        }
    }

    @Test
    void q6_KBlockDecodesSixBitQuantsWithSignedScales() {
        // block_q6_K = {uint8 ql[128], uint8 qh[64], int8 scales[16], half d}
        int[] sc = {1, -2, 3, 127, -128, 5, 64, -64, 9, 10, -11, 12, 13, -14, 15, 100};
        int[] q = new int[256];
        for (int e = 0; e < 256; e++) {
            q[e] = (e * 11 + 3) % 64;
        }
        byte[] ql = new byte[128];
        byte[] qh = new byte[64];
        for (int j = 0, qlo = 0, qho = 0; j < 256; j += 128, qlo += 64, qho += 32) { // as quantize_row_q6_K_ref
            for (int l = 0; l < 32; l++) {
                ql[qlo + l] = (byte) ((q[j + l] & 0xF) | ((q[j + l + 64] & 0xF) << 4));
                ql[qlo + l + 32] = (byte) ((q[j + l + 32] & 0xF) | ((q[j + l + 96] & 0xF) << 4));
                qh[qho + l] = (byte) ((q[j + l] >> 4) | ((q[j + l + 32] >> 4) << 2)
                        | ((q[j + l + 64] >> 4) << 4) | ((q[j + l + 96] >> 4) << 6));
            }
        }
        ByteBuffer b = le(210).put(ql).put(qh);
        for (int s : sc) {
            b.put((byte) s);
        }
        b.putShort(Float16.fromFloat(0.125f));
        float[] got = row(Matrix.of(GgmlType.Q6_K, b.flip(), 1, 256, "q6k"), 0);
        for (int e = 0; e < 256; e++) {
            assertEquals(0.125f * sc[e / 16] * (q[e] - 32), got[e], 0.0, "element " + e);
        }
    }

    @Test
    void vectorHalfDecodeIsExactForAll65536Halves() {
        ByteBuffer b = le(2 * 65536);
        for (int h = 0; h < 65536; h++) {
            b.putShort((short) h);
        }
        Matrix m = Matrix.of(GgmlType.F16, b.flip(), 256, 256, "all-halves");
        float[] vector = new float[256];
        for (int r = 0; r < 256; r++) {
            m.dequantizeRowSimd(r, vector, 0);
            for (int c = 0; c < 256; c++) {
                int h = r * 256 + c;
                float expected = Float16.toFloat((short) h); // checked against the IEEE definition in Float16Test
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(vector[c]),
                        () -> "half 0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void halfProductsWithConversionFusedInGiveWhatTheDecodedWeightsGiveForEveryFiniteHalf() {
        // Every finite half (subnormals, both zeros, negatives) once, 248 rows of 256: the fused one- to
        // five-token kernels against an F32 matrix of the same weights decoded by the scalar table, bit for bit.
        int rows = 248;
        int cols = 256;
        ByteBuffer halves = le(2 * rows * cols);
        ByteBuffer floats = le(4 * rows * cols);
        for (int h = 0; h < 65536; h++) {
            if ((h & 0x7C00) != 0x7C00) {
                halves.putShort((short) h);
                floats.putFloat(Float16.toFloat((short) h));
            }
        }
        Matrix f16 = Matrix.of(GgmlType.F16, halves.flip(), rows, cols, "finite-halves");
        Matrix f32 = Matrix.of(GgmlType.F32, floats.flip(), rows, cols, "finite-halves-decoded");
        Random rnd = new Random(11);
        for (int n = 1; n <= 5; n++) {
            float[] x = new float[n * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] got = new float[n * rows];
            float[] expected = new float[n * rows];
            f16.matmul(x, got, n);
            f32.matmul(x, expected, n);
            for (int i = 0; i < got.length; i++) {
                int at = i;
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(got[i]),
                        () -> "token " + at / rows + ", row " + at % rows);
            }
        }
    }

    @Test
    void halfMatricesHoldingInfinitiesOrNaNsTakeTheScalarKernels() {
        // the vector kernels' three-operation conversion turns exponent 31 into finite floats: such a matrix must
        // take the scalar kernels (their table is exact), and give what an F32 matrix of its weights gives there
        int rows = 8;
        int cols = 64;
        Random rnd = new Random(17);
        short[] h = new short[rows * cols];
        for (int i = 0; i < h.length; i++) {
            h[i] = (short) (rnd.nextInt(0x7800) | (rnd.nextBoolean() ? 0x8000 : 0)); // finite halves
        }
        h[cols + 3] = (short) 0x7C00;        // +infinity in row 1
        h[5 * cols + 10] = (short) 0x7E00;   // a NaN in row 5
        h[6 * cols] = (short) 0xFC00;        // -infinity in row 6
        ByteBuffer halves = le(2 * h.length);
        ByteBuffer floats = le(4 * h.length);
        for (short s : h) {
            halves.putShort(s);
            floats.putFloat(Float16.toFloat(s));
        }
        Matrix f16 = Matrix.of(GgmlType.F16, halves.flip(), rows, cols, "with-specials");
        Matrix f32 = Matrix.of(GgmlType.F32, floats.flip(), rows, cols, "with-specials-decoded");
        for (int n = 1; n <= 7; n++) {
            float[] x = new float[n * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = 0.5f + rnd.nextFloat(); // positive: row 1 sums to +inf, row 6 to -inf
            }
            float[] got = new float[n * rows];
            float[] expected = new float[n * rows];
            f16.matmul(x, got, n);
            f32.matmul(x, expected, n, false);
            for (int i = 0; i < got.length; i++) {
                int at = i;
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(got[i]),
                        () -> "token " + at / rows + ", row " + at % rows);
            }
            for (int t = 0; t < n; t++) {
                assertEquals(Float.POSITIVE_INFINITY, got[t * rows + 1], "row 1");
                assertTrue(Float.isNaN(got[t * rows + 5]), "row 5");
                assertEquals(Float.NEGATIVE_INFINITY, got[t * rows + 6], "row 6");
                assertTrue(Float.isFinite(got[t * rows]), "row 0");
            }
            assertEquals(Float.floatToIntBits(got[1]), Float.floatToIntBits(f16.dot(1, x, 0)), "dot, row 1");
            assertEquals(Float.floatToIntBits(got[0]), Float.floatToIntBits(f16.dot(0, x, 0)), "dot, row 0");
        }
    }

    @Test
    void halfAndBfloatMatricesDecodeEachElement() {
        ByteBuffer f16 = le(2 * 2 * 8);
        ByteBuffer bf16 = le(2 * 2 * 8);
        float[] expected = new float[16];
        Random rnd = new Random(5);
        for (int i = 0; i < 16; i++) {
            short h = (short) rnd.nextInt(0x7C00); // positive finite halves
            short bf = (short) (rnd.nextInt(0x7F00) | (i % 2 == 0 ? 0x8000 : 0));
            f16.putShort(h);
            bf16.putShort(bf);
            expected[i] = Float16.toFloat(h);
        }
        Matrix mf = Matrix.of(GgmlType.F16, f16.flip(), 2, 8, "f16");
        Matrix mb = Matrix.of(GgmlType.BF16, bf16.flip(), 2, 8, "bf16");
        for (int r = 0; r < 2; r++) {
            float[] gotF = row(mf, r);
            float[] gotB = row(mb, r);
            for (int c = 0; c < 8; c++) {
                assertEquals(expected[r * 8 + c], gotF[c]);
                assertEquals(Float.intBitsToFloat((bf16.getShort(2 * (r * 8 + c)) & 0xFFFF) << 16), gotB[c]);
            }
        }
    }

    // ------------------------------------------------------------------ kernels against float64

    private record Case(Matrix m, double[][] w) {
    }

    /** A random rows × cols matrix of {@code type} and its decoded weights in double. */
    private static Case randomMatrix(GgmlType type, int rows, int cols, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian() * (1 + (i % 7));
        }
        Matrix m = Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, "w." + type);
        double[][] ref = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            float[] rw = row(m, r);
            for (int c = 0; c < cols; c++) {
                ref[r][c] = rw[c];
            }
        }
        return new Case(m, ref);
    }

    private static float[] randomX(int n, int cols, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** |got − Σ w·x| must be within 2e-5 of Σ |w·x| (float accumulation of up to a few thousand terms). */
    private static double assertDot(double[] w, float[] x, int xOff, float got, String what) {
        double sum = 0;
        double abs = 0;
        for (int c = 0; c < w.length; c++) {
            sum += w[c] * x[xOff + c];
            abs += Math.abs(w[c] * x[xOff + c]);
        }
        double tol = 2e-5 * abs + 1e-30;
        assertTrue(Math.abs(got - sum) <= tol, what + ": got " + got + ", float64 " + sum + ", tolerance " + tol);
        return abs;
    }

    private static int colsFor(GgmlType type) {
        return type.blockSize() == 256 ? 512 : type == GgmlType.F32 ? 172 : 160;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void dotMatchesFloat64OverDecodedWeightsInBothKernelFamilies(GgmlType type) {
        assertTrue(VectorApiSupport.ENABLED, "tests run with --add-modules jdk.incubator.vector on AVX2 or better");
        int cols = colsFor(type);
        Case c = randomMatrix(type, 5, cols, 11);
        float[] x = randomX(2, cols, 12);
        for (int r = 0; r < 5; r++) {
            assertDot(c.w[r], x, cols, c.m.dot(r, x, cols), type + " dot row " + r);
            assertDot(c.w[r], x, cols, c.m.dotScalar(r, x, cols), type + " scalar dot row " + r);
            assertDot(c.w[r], x, 0, c.m.dotSimd(r, x, 0), type + " vector dot row " + r);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void matmulOfOneToSeventeenTokensMatchesFloat64AndSeparateDots(GgmlType type) {
        int cols = colsFor(type);
        int rows = 7; // odd: exercises the single-row tail of the 2-row tile
        Case c = randomMatrix(type, rows, cols, 21);
        for (int n = 1; n <= 17; n++) {
            float[] x = randomX(n, cols, 100 + n);
            for (boolean simd : List.of(true, false)) {
                float[] out = new float[n * rows];
                c.m.matmul(x, out, n, simd);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        String what = type + (simd ? " vector" : " scalar") + " n=" + n + " t=" + t + " r=" + r;
                        double abs = assertDot(c.w[r], x, t * cols, out[t * rows + r], what);
                        float single = c.m.dot(r, x, t * cols);
                        assertEquals(single, out[t * rows + r], 4e-5 * abs, what + " vs dot");
                    }
                }
            }
        }
    }

    static java.util.stream.Stream<GgmlType> everySupportedType() {
        return GgmlType.supportedTypes().stream();
    }

    @ParameterizedTest
    @MethodSource("everySupportedType") // each type's own fused kernels for 1, 2 and 3 tokens
    void aTokensResultIsBitwiseIndependentOfTheBatchItIsIn(GgmlType type) {
        // greedy decoding must not change when a request is batched with others (ARCHITECTURE.md)
        int cols = colsFor(type);
        int rows = 70; // > 4·16 rows: several parallel tasks, four-row groups and a remainder
        Case c = randomMatrix(type, rows, cols, 61);
        int n = 17;
        float[] x = randomX(n, cols, 62);
        float[] all = new float[n * rows];
        c.m.matmul(x, all, n);
        float[][] alone = eachTokenAlone(c.m, x, n, all, type + "");
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                assertEquals(Float.floatToIntBits(alone[t][r]), Float.floatToIntBits(c.m.dot(r, x, t * cols)),
                        type + " token " + t + " row " + r + " dot");
            }
        }
        // 2 to 13 tokens: the 4-row tiles or fused passes of 2-4 tokens (AVX-512; BF16 up to twelve tokens, Q8_0,
        // F16 and the scale types up to eight), 2x4, 2x2 and 2x1 (AVX2), then the packed tiles
        for (int size = 2; size <= 13; size++) {
            float[] part = new float[size * rows];
            c.m.matmul(java.util.Arrays.copyOfRange(x, 4 * cols, (4 + size) * cols), part, size);
            for (int i = 0; i < size * rows; i++) {
                assertEquals(Float.floatToIntBits(all[4 * rows + i]), Float.floatToIntBits(part[i]),
                        type + " batch of " + size + " element " + i);
            }
        }
    }

    @Test
    void fusedPassesSplitAnyTokenCountIntoPassesTheKernelsTake() {
        // no kernel takes one token: 7 tokens with passes of at most 3 must be 3 + 2 + 2, never 3 + 3 + 1
        for (int widest = 3; widest <= 4; widest++) { // the kernels' widest passes
            for (int n = 2; n <= 16; n++) {
                List<Integer> passes = new java.util.ArrayList<>();
                for (int left = n; left > 0; left -= passes.get(passes.size() - 1)) {
                    passes.add(Matrix.fewTokenPass(left, widest));
                }
                int widestPass = widest;
                assertEquals(n, passes.stream().mapToInt(Integer::intValue).sum(), "widest " + widest + ": " + passes);
                assertTrue(passes.stream().allMatch(p -> p >= 2 && p <= widestPass), "widest " + widest + ": " + passes);
                assertEquals((n + widest - 1) / widest, passes.size(), "widest " + widest + ": fewest passes " + passes);
            }
        }
        assertEquals(List.of(3, 2, 2),
                List.of(Matrix.fewTokenPass(7, 3), Matrix.fewTokenPass(4, 3), Matrix.fewTokenPass(2, 3)));
        assertThrows(IllegalArgumentException.class, () -> Matrix.fewTokenPass(1, 3));
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void packedSixTokenTilesGiveEveryTokenBitwiseItsResultAloneAndMatchFloat64(GgmlType type) {
        // n >= 6 takes the packed 6-token tiles: a token's result must not depend on its tile,
        // its place in the tile, the padding of the last tile, or the row pair (odd rows: a lone last row)
        int cols = colsFor(type);
        int rows = 37;
        Case c = randomMatrix(type, rows, cols, 71);
        int total = 40;
        float[] x = randomX(total, cols, 72);
        float[][] alone = new float[total][rows];
        for (int t = 0; t < total; t++) {
            c.m.matmul(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), alone[t], 1);
        }
        // last tiles of 1 to 5 tokens (the narrower packed tiles below 5): 7, 8, 9, 10 and 11 tokens
        for (int[] batch : new int[][] {{0, 6}, {0, 7}, {3, 11}, {1, 10}, {4, 14}, {1, 12}, {5, 13}, {0, 32}, {2, 40},
                {9, 31}}) {
            int from = batch[0];
            int n = batch[1] - from;
            float[] out = new float[n * rows];
            c.m.matmul(java.util.Arrays.copyOfRange(x, from * cols, batch[1] * cols), out, n);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < rows; r++) {
                    String what = type + " batch [" + from + ", " + batch[1] + ") token " + (from + t) + " row " + r;
                    assertEquals(Float.floatToIntBits(alone[from + t][r]), Float.floatToIntBits(out[t * rows + r]), what);
                    if (n == 40 - 2) {
                        assertDot(c.w[r], x, (from + t) * cols, out[t * rows + r], what + " float64");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "Q8_0", "Q4_K"})
    void parallelMatmulOfALargeMatrixMatchesFloat64(GgmlType type) {
        int rows = 301;
        int cols = 1024;
        int n = 5; // 1.5 M multiply-adds: split over the worker pool
        Case c = randomMatrix(type, rows, cols, 31);
        float[] x = randomX(n, cols, 32);
        float[] out = new float[n * rows];
        c.m.matmul(x, out, n);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                assertDot(c.w[r], x, t * cols, out[t * rows + r], type + " t=" + t + " r=" + r);
            }
        }
        float[] one = new float[rows];
        c.m.matmul(x, one, 1);
        for (int r = 0; r < rows; r++) {
            assertDot(c.w[r], x, 0, one[r], type + " n=1 r=" + r);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void aParallelSingleTokenMatmulGivesEveryRowBitwiseItsBatchedResult(GgmlType type) {
        // n = 1 takes rows in sets of four, a quarter of the matrix apart for some types, and the last
        // rows % 4 in pairs; each row must still be what a batch computes for it (odd columns: a scalar tail)
        int rows = 303;
        int cols = type.blockSize() == 1 ? 1001 : 1024;
        Case c = randomMatrix(type, rows, cols, 81);
        for (int n : new int[] {7, 12}) { // fused passes (3 + 2 + 2; 4 + 4 + 4 for BF16) or packed tiles
            float[] x = randomX(n, cols, 82);
            float[] batch = new float[n * rows];
            c.m.matmul(x, batch, n);
            float[][] alone = eachTokenAlone(c.m, x, n, batch, type + " parallel n=" + n);
            for (int r = 0; r < rows; r++) {
                assertDot(c.w[r], x, 0, alone[0][r], type + " n=" + n + " token 0 row " + r + " float64");
            }
        }
    }

    /**
     * Multiplies each of the n tokens of x ([n, cols]) alone, asserts each result is bitwise its part of the
     * batched product {@code batch} ([n, rows]), and returns them ([n][rows]).
     */
    private static float[][] eachTokenAlone(Matrix m, float[] x, int n, float[] batch, String what) {
        int rows = m.rows();
        int cols = m.cols();
        float[][] alone = new float[n][rows];
        for (int t = 0; t < n; t++) {
            m.matmul(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), alone[t], 1);
            for (int r = 0; r < rows; r++) {
                assertEquals(Float.floatToIntBits(batch[t * rows + r]), Float.floatToIntBits(alone[t][r]),
                        what + " token " + t + " row " + r + " alone");
            }
        }
        return alone;
    }

    /**
     * The planes a Q8_0 or K-quant matrix hands to other kernels (the GPU's) decode, by the rule QuantPlanes documents,
     * to the bits of the matrix's own row decode; other types have none.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_K", "Q6_K"})
    void kQuantPlanesDecodeByTheirDocumentedRuleToTheRowDecode(GgmlType type) {
        int rows = 3;
        int cols = 512;
        Matrix m = randomMatrix(type, rows, cols, 43).m;
        QuantPlanes p = m.planes();
        assertEquals(type, p.type());
        assertEquals(type == GgmlType.Q6_K ? 16 : 32, p.group());
        assertEquals(rows * cols / p.group(), p.scales().length);
        for (int r = 0; r < rows; r++) {
            float[] expected = row(m, r);
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                float got;
                if (type == GgmlType.Q4_K) {
                    int b = p.quants()[i / 64 * 32 + i % 32] & 0xFF;
                    int q = i % 64 < 32 ? b & 0xF : b >> 4;
                    got = p.scales()[i / 32] * q - p.mins()[i / 32];
                } else {
                    got = p.scales()[i / p.group()] * p.quants()[i];
                }
                assertEquals(Float.floatToRawIntBits(expected[c]), Float.floatToRawIntBits(got), type + " r" + r + " c" + c);
            }
        }
        assertEquals(null, randomMatrix(GgmlType.BF16, 1, 64, 1).m.planes());
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void vectorRowDecodeMatchesScalarDecode(GgmlType type) {
        Case c = randomMatrix(type, 3, colsFor(type), 41);
        for (int r = 0; r < 3; r++) {
            float[] scalar = row(c.m, r);
            float[] vector = new float[c.m.cols()];
            c.m.dequantizeRowSimd(r, vector, 0);
            for (int i = 0; i < scalar.length; i++) {
                assertEquals(scalar[i], vector[i], 1e-6f * (1 + Math.abs(scalar[i])), type + " r" + r + " c" + i);
            }
        }
    }

    @Test
    void matricesBuiltFromAGgufFileDecodeTheWrittenBlocksAndRejectUnsupportedTypes(@TempDir Path dir) {
        float[] w = randomX(3, 64, 51); // 3 rows × 64 cols
        byte[] q8 = Quantizer.quantize(GgmlType.Q8_0, w);
        Path p = dir.resolve("m.gguf");
        new GgufWriter()
                .addTensor("blk.0.attn_q.weight", GgmlType.Q8_0, new long[] {64, 3}, q8)
                .addTensor("blk.0.ffn_down.weight", GgmlType.IQ2_XXS, new long[] {256, 1}, new byte[66])
                .write(p);
        try (GgufFile f = GgufFile.open(p)) {
            Matrix m = Matrix.of(f, "blk.0.attn_q.weight");
            assertEquals(3, m.rows());
            assertEquals(GgmlType.Q8_0, m.type());
            ByteBuffer b = ByteBuffer.wrap(q8).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < 3; r++) {
                float[] got = row(m, r);
                for (int c = 0; c < 64; c++) {
                    int block = r * 2 + c / 32;
                    assertEquals(Float16.toFloat(b.getShort(block * 34)) * b.get(block * 34 + 2 + c % 32), got[c]);
                }
            }
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> Matrix.of(f, "blk.0.ffn_down.weight"));
            assertTrue(e.getMessage().contains("m.gguf") && e.getMessage().contains("blk.0.ffn_down.weight")
                    && e.getMessage().contains("IQ2_XXS"), e.getMessage());
        }
    }

    @Test
    void stories260KEmbeddingAndNormLoadAsMatricesOfTheFileFloats() {
        Path p = SharedModels.require("stories260K/stories260K.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            Matrix emb = Matrix.of(f, "token_embd.weight");
            assertEquals(512, emb.rows());
            assertEquals(64, emb.cols());
            ByteBuffer raw = f.tensorData("token_embd.weight");
            float[] row = row(emb, 300);
            for (int c = 0; c < 64; c++) {
                assertEquals(raw.getFloat((300 * 64 + c) * 4), row[c]);
            }
            Matrix norm = Matrix.of(f, "blk.0.attn_norm.weight");
            assertEquals(1, norm.rows());
            assertEquals(64, norm.cols());
            GgufFormatException missing = assertThrows(GgufFormatException.class, () -> Matrix.of(f, "nope.weight"));
            assertTrue(missing.getMessage().contains("stories260K.gguf") && missing.getMessage().contains("nope.weight"));
        }
    }

    @Test
    void ofF32WrapsRowMajorData() {
        float[] w = {1, 2, 3, 4, 5, 6};
        Matrix m = Matrix.ofF32(w, 2, 3);
        float[] out = new float[4];
        m.matmul(new float[] {1, 0, -1, 2, 2, 2}, out, 2);
        assertArrayEquals(new float[] {-2, -2, 12, 30}, out);
        assertEquals(GgmlType.F32, m.type());
        assertThrows(IllegalArgumentException.class, () -> Matrix.ofF32(w, 4, 2));
    }

    @Test
    void unsupportedTypesFailNamingTheTensorAndTheSupportedTypes() {
        GgufFormatException e = assertThrows(GgufFormatException.class,
                () -> Matrix.of(GgmlType.IQ2_XXS, ByteBuffer.allocate(66), 1, 256, "blk.3.ffn_down.weight"));
        assertTrue(e.getMessage().contains("blk.3.ffn_down.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("IQ2_XXS"), e.getMessage());
        assertTrue(e.getMessage().contains("Q8_0") && e.getMessage().contains("Q6_K"), e.getMessage());
    }

    @Test
    void shortBuffersAndBadShapesAreRejected() {
        GgufFormatException shortBuf = assertThrows(GgufFormatException.class,
                () -> Matrix.of(GgmlType.Q8_0, ByteBuffer.allocate(34), 2, 32, "t"));
        assertTrue(shortBuf.getMessage().contains("68 bytes"), shortBuf.getMessage());
        assertThrows(GgufFormatException.class, () -> Matrix.of(GgmlType.Q8_0, ByteBuffer.allocate(340), 1, 48, "t"));
        Matrix m = Matrix.ofF32(new float[6], 2, 3);
        assertThrows(IllegalArgumentException.class, () -> m.matmul(new float[5], new float[4], 2));
        assertThrows(IndexOutOfBoundsException.class, () -> m.dot(2, new float[3], 0));
    }
}
