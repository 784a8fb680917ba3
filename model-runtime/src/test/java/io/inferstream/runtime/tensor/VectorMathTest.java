package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The forward-pass kernels against float64 formulas, in the public (vector) and the scalar families. */
class VectorMathTest {

    private static final int OFF = 3; // offsets everywhere, to catch offset mix-ups

    private static float[] random(int n, long seed, double scale) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    private static void close(double expected, float got, double tol, String what) {
        assertTrue(Math.abs(expected - got) <= tol, what + ": expected " + expected + " got " + got);
    }

    @Test
    void everyLaneSumIsBitwiseTheLaneOrderSumOnceCompiled() {
        // finishTile and finishTile4 add stored lanes in plain code, every other kernel calls laneSum (reduceLanes
        // where the JDK adds in lane order): enough rounds for C2 to compile all of them, over values of many
        // magnitudes, so a JDK whose compiled reduceLanes adds in another order fails here, not as a batch that
        // disagrees with a token alone (Java 25's C2 adds in a tree)
        int lanes = SimdFloatKernels.LANES;
        int tokens = SimdFloatKernels.PACKED_TOKENS;
        Random r = new Random(11);
        float[] scales = new float[13];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = (float) Math.pow(10, i - 6);
        }
        float[] acc = new float[4 * tokens * lanes];
        float[] out4 = new float[tokens * 4];
        float[] out2 = new float[tokens * 2];
        float[] none = new float[0]; // no columns past the vectors: w and x are not read
        for (int round = 0; round < 20_000; round++) {
            for (int i = 0; i < acc.length; i++) {
                acc[i] = (float) r.nextGaussian() * scales[r.nextInt(scales.length)];
            }
            SimdFloatKernels.finishTile4(acc, none, 0, 0, none, 0, 0, 0, tokens, out4, 0, 4);
            SimdFloatKernels.finishTile(acc, none, 0, 0, none, 0, 0, 0, tokens, out2, 0, 2, true);
            for (int j = 0; j < tokens; j++) {
                for (int k = 0; k < 4; k++) {
                    int base = (k * tokens + j) * lanes;
                    float expected = 0f;
                    for (int l = 0; l < lanes; l++) {
                        expected += acc[base + l];
                    }
                    float viaVector = SimdFloatKernels.laneSum(FloatVector.fromArray(SimdFloatKernels.F, acc, base));
                    int row = k;
                    int token = j;
                    int at = round;
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(viaVector),
                            () -> "laneSum, round " + at + ", token " + token + ", row " + row);
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out4[j * 4 + k]),
                            () -> "4-row tile, round " + at + ", token " + token + ", row " + row);
                    if (k < 2) {
                        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out2[j * 2 + k]),
                                () -> "2-row tile, round " + at + ", token " + token + ", row " + row);
                    }
                }
            }
        }
    }

    @Test
    void dotMatchesFloat64ForEveryLengthAroundTheVectorWidth() {
        assertTrue(VectorMath.vectorized(), "tests run with the Vector API enabled");
        for (int n = 0; n <= 70; n++) {
            float[] a = random(n + OFF, n, 1);
            float[] b = random(n + 2 * OFF, n + 1000, 1);
            double ref = 0;
            double abs = 0;
            for (int i = 0; i < n; i++) {
                ref += (double) a[OFF + i] * b[2 * OFF + i];
                abs += Math.abs((double) a[OFF + i] * b[2 * OFF + i]);
            }
            close(ref, VectorMath.dot(a, OFF, b, 2 * OFF, n), 1e-6 * abs, "vector n=" + n);
            close(ref, ScalarFloatKernels.dot(a, OFF, b, 2 * OFF, n), 1e-6 * abs, "scalar n=" + n);
        }
    }

    @Test
    void rmsnormScalesByInverseRootMeanSquare() {
        int n = 77;
        float[] x = random(n + OFF, 1, 3);
        float[] w = random(n, 2, 1);
        double ss = 0;
        for (int i = 0; i < n; i++) {
            ss += (double) x[OFF + i] * x[OFF + i];
        }
        double inv = 1 / Math.sqrt(ss / n + 1e-5);
        float[] out = new float[n + 2 * OFF];
        VectorMath.rmsnorm(out, 2 * OFF, x, OFF, w, n, 1e-5f);
        for (int i = 0; i < n; i++) {
            double e = w[i] * x[OFF + i] * inv;
            close(e, out[2 * OFF + i], 1e-5 * (1 + Math.abs(e)), "rmsnorm " + i);
        }
        VectorMath.rmsnorm(x, OFF, x, OFF, w, n, 1e-5f); // in place
        for (int i = 0; i < n; i++) {
            assertEquals(out[2 * OFF + i], x[OFF + i]);
        }
    }

    @Test
    void softmaxIsStableForHugeLogitsAndSumsToOne() {
        int n = 45;
        float[] x = random(n + OFF, 4, 10);
        x[OFF + 7] = 1e4f; // exp would overflow without subtracting the max
        x[OFF + 8] = 1e4f - 1;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[OFF + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[OFF + i] - max);
        }
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) {
            expected[i] = Math.exp(x[OFF + i] - max) / sum;
        }
        float before = x[0];
        VectorMath.softmax(x, OFF, n);
        double total = 0;
        for (int i = 0; i < n; i++) {
            close(expected[i], x[OFF + i], 1e-6, "softmax " + i);
            total += x[OFF + i];
        }
        close(1.0, (float) total, 1e-5, "sum");
        assertEquals(before, x[0]); // outside the range: untouched
        assertEquals(1 / (1 + Math.exp(-1)), x[OFF + 7], 1e-6);
    }

    @Test
    void siluAndSwigluMatchTheirDefinitions() {
        int n = 29;
        float[] g = random(n + OFF, 5, 4);
        float[] u = random(n + OFF, 6, 1);
        float[] gCopy = g.clone();
        VectorMath.swiglu(g, u, OFF, n);
        for (int i = 0; i < n; i++) {
            double v = gCopy[OFF + i];
            double e = v / (1 + Math.exp(-v)) * u[OFF + i];
            close(e, g[OFF + i], 1e-6 * (1 + Math.abs(e)), "swiglu " + i);
        }
        float[] s = gCopy.clone();
        VectorMath.silu(s, OFF, n);
        for (int i = 0; i < n; i++) {
            double v = gCopy[OFF + i];
            close(v / (1 + Math.exp(-v)), s[OFF + i], 1e-6 * (1 + Math.abs(v)), "silu " + i);
        }
    }

    @Test
    void gegluMatchesGeluTanhTimesUp() {
        // Gemma's feed-forward: 0.5·g·(1 + tanh(sqrt(2/π)·(g + 0.044715·g³))) · u, including gates far out on both sides
        int n = 29;
        float[] g = random(n + OFF, 9, 4);
        float[] u = random(n + OFF, 10, 1);
        g[OFF] = 100f;
        g[OFF + 1] = -100f;
        g[OFF + 2] = 12f;
        g[OFF + 3] = -12f;
        g[OFF + n - 1] = -0.001f; // the scalar tail
        float[] gCopy = g.clone();
        VectorMath.geglu(g, u, OFF, n);
        for (int i = 0; i < n; i++) {
            double v = gCopy[OFF + i];
            double e = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))) * u[OFF + i];
            close(e, g[OFF + i], 1e-6 * (1 + Math.abs(v * u[OFF + i])), "geglu " + i + " of gate " + v);
        }
    }

    @Test
    void addAxpyAndScaleAreElementWiseInBothFamilies() {
        int n = 37;
        float[] a = random(n + OFF, 7, 1);
        float[] b = random(n + 2 * OFF, 8, 1);
        for (boolean simd : new boolean[] {true, false}) {
            float[] y = a.clone();
            if (simd) {
                VectorMath.axpy(0.75f, b, 2 * OFF, y, OFF, n);
            } else {
                ScalarFloatKernels.axpy(0.75f, b, 2 * OFF, y, OFF, n);
            }
            float[] s = a.clone();
            if (simd) {
                VectorMath.add(s, OFF, b, 2 * OFF, n);
                VectorMath.scale(s, OFF, n, -2f);
            } else {
                ScalarFloatKernels.add(s, OFF, b, 2 * OFF, n);
                ScalarFloatKernels.scale(s, OFF, n, -2f);
            }
            for (int i = 0; i < n; i++) {
                double ax = a[OFF + i] + 0.75 * b[2 * OFF + i];
                close(ax, y[OFF + i], 1e-6 * (1 + Math.abs(ax)), "axpy " + i);
                double sc = -2.0 * (a[OFF + i] + (double) b[2 * OFF + i]);
                close(sc, s[OFF + i], 1e-6 * (1 + Math.abs(sc)), "add+scale " + i);
            }
            for (int i = 0; i < OFF; i++) {
                assertEquals(a[i], y[i]);
                assertEquals(a[i], s[i]);
            }
        }
    }

    /** The keys of one block transposed as the KV store holds them: kT[d·blockSize + i] = k[off + i·stride + d]. */
    private static float[] transposed(float[] k, int off, int stride, int count, int len, int blockSize) {
        float[] kT = random(len * blockSize, 99, 1); // positions past count hold other data, as in a real block
        for (int i = 0; i < count; i++) {
            for (int d = 0; d < len; d++) {
                kT[d * blockSize + i] = k[off + i * stride + d];
            }
        }
        return kT;
    }

    @Test
    void vectorExpIsWithinTwoUlpOfExactAndLanesEqualTheScalarTwin() {
        Random r = new Random(5);
        int n = 4099;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) ((r.nextDouble() - 0.5) * 180); // [-90, 90]: underflow and overflow included
        }
        x[0] = 0f;
        x[1] = 88f;
        x[2] = 88.5f;
        x[6] = 88.72f;
        x[7] = 88.73f;
        x[3] = -87.5f;
        x[4] = -100f;
        x[5] = Float.NEGATIVE_INFINITY;
        float[] y = x.clone();
        VectorMath.silu(y, 0, n); // vector lanes for most elements, the scalar twin for the tail
        for (int i = 0; i < n; i++) {
            float v = x[i];
            assertEquals(Float.floatToIntBits(v / (1f + SimdExp.exp(-v))), Float.floatToIntBits(y[i]), "silu lane " + i);
        }
        for (int i = 0; i < n; i++) {
            float got = SimdExp.exp(x[i]);
            double exact = Math.exp(x[i]);
            if (exact > Float.MAX_VALUE) {
                assertEquals(Float.POSITIVE_INFINITY, got, "exp(" + x[i] + ")");
            } else if (exact < Float.MIN_NORMAL) {
                assertTrue(got >= 0 && got <= Float.MIN_NORMAL, "exp(" + x[i] + ") underflows to ~0, got " + got);
            } else {
                assertTrue(Math.abs(got - exact) <= 2 * Math.ulp((float) exact), "exp(" + x[i] + ") = " + exact + ", got " + got);
            }
        }
        // softmax over rows of every length around the vector width: lanes and tail use the same exp
        for (int len = 1; len <= 40; len++) {
            float[] row = new float[len + OFF];
            System.arraycopy(x, 100, row, OFF, len);
            float[] ref = row.clone();
            VectorMath.softmax(row, OFF, len);
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++) {
                max = Math.max(max, ref[OFF + i]);
            }
            double total = 0;
            for (int i = 0; i < len; i++) {
                total += Math.exp(ref[OFF + i] - max);
            }
            for (int i = 0; i < len; i++) {
                close(Math.exp(ref[OFF + i] - max) / total, row[OFF + i], 1e-6, "softmax len=" + len + " i=" + i);
            }
        }
        // SwiGLU against its float64 formula
        float[] gate = random(37 + OFF, 3, 4);
        float[] up = random(37 + OFF, 4, 1);
        float[] out = gate.clone();
        VectorMath.swiglu(out, up, OFF, 37);
        for (int i = OFF; i < 37 + OFF; i++) {
            double g = gate[i];
            close(g / (1 + Math.exp(-g)) * up[i], out[i], 1e-6 * (1 + Math.abs(g * up[i])), "swiglu " + i);
        }
    }

    @Test
    void vectorHalfToFloatIsBitwiseTheScalarConversionForEveryHalf() {
        short[] all = new short[65536 + OFF];
        for (int h = 0; h < 65536; h++) {
            all[OFF + h] = (short) h;
        }
        float[] got = new float[65536 + 2 * OFF];
        VectorMath.f16ToF32(all, OFF, got, 2 * OFF, 65536);
        for (int h = 0; h < 65536; h++) {
            assertEquals(Float.floatToRawIntBits(io.inferstream.runtime.gguf.Float16.toFloat((short) h)),
                    Float.floatToRawIntBits(got[2 * OFF + h]), "half 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void halfHelpersRoundTrip() {
        assertEquals(0x3C00, VectorMath.f32ToF16(1f) & 0xFFFF);
        assertEquals(-2f, VectorMath.f16ToF32((short) 0xC000));
        assertEquals(65504f, VectorMath.f16ToF32(VectorMath.f32ToF16(65504f)));
        assertEquals(3.140625f, VectorMath.bf16ToF32((short) 0x4049));
    }
    @Test
    void blockScoresAndWeightedSumMatchFloat64AndEqualRowByRowCallsBitwise() {
        // attention over one KV block: count rows spaced stride apart, lengths around the vector widths
        int stride = 101;
        for (int len : new int[] {2, 8, 16, 32, 64, 80}) {
            for (int count : new int[] {1, 5, 16}) {
                float[] q = random(2 * len + OFF, len, 1);
                float[] k = random(OFF + count * stride + len, 7 * len + count, 1);
                float[] kT = transposed(k, OFF, stride, count, len, 16); // [len][16] keys of the block
                float[] a = random(count + OFF, 11 * len + count, 1);
                int pad = VectorMath.lanes();
                float[] scores = new float[2 * (count + pad) + OFF];
                int ob = OFF + count + pad;
                VectorMath.keyScores(q, OFF, OFF + len, true, kT, 0, 16, count, len, 0.125f, scores, OFF, ob);
                float[] one = new float[count + pad];
                VectorMath.keyScores(q, OFF + len, OFF, false, kT, 0, 16, count, len, 0.125f, one, 0, 0);
                float[] scalar = new float[2 * count];
                ScalarFloatKernels.keyScores(q, OFF, OFF + len, true, kT, 0, 16, count, len, 0.125f, scalar, 0, count);
                float[] y = random(len + OFF, 13 * len, 1);
                float[] yRows = y.clone();
                float[] yScalar = y.clone();
                float[] yCalls = y.clone();
                VectorMath.axpyRows(a, OFF, k, OFF, stride, count, yRows, OFF, len);
                ScalarFloatKernels.axpyRows(a, OFF, k, OFF, stride, count, yScalar, OFF, len);
                for (int i = 0; i < count; i++) {
                    double ref = 0;
                    double abs = 0;
                    for (int c = 0; c < len; c++) {
                        ref += (double) q[OFF + c] * k[OFF + i * stride + c];
                        abs += Math.abs((double) q[OFF + c] * k[OFF + i * stride + c]);
                    }
                    String what = "len=" + len + " count=" + count + " row " + i;
                    close(ref * 0.125, scores[OFF + i], 1e-6 * abs, what + " score");
                    // every lane and the scalar twin compute the same bits, whichever head pairing
                    assertEquals(Float.floatToIntBits(scalar[i]), Float.floatToIntBits(scores[OFF + i]), what + " vs scalar");
                    assertEquals(Float.floatToIntBits(scalar[count + i]), Float.floatToIntBits(scores[ob + i]),
                            what + " second head vs scalar");
                    assertEquals(Float.floatToIntBits(scores[ob + i]), Float.floatToIntBits(one[i]), what + " alone vs paired");
                    VectorMath.axpy(a[OFF + i], k, OFF + i * stride, yCalls, OFF, len);
                }
                for (int c = 0; c < len; c++) {
                    double ref = y[OFF + c];
                    double abs = Math.abs(ref);
                    for (int i = 0; i < count; i++) {
                        ref += (double) a[OFF + i] * k[OFF + i * stride + c];
                        abs += Math.abs((double) a[OFF + i] * k[OFF + i * stride + c]);
                    }
                    String what = "len=" + len + " count=" + count + " column " + c;
                    close(ref, yRows[OFF + c], 1e-6 * abs, what + " weighted sum");
                    close(ref, yScalar[OFF + c], 1e-6 * abs, what + " scalar weighted sum");
                    assertEquals(Float.floatToIntBits(yCalls[OFF + c]), Float.floatToIntBits(yRows[OFF + c]),
                            what + " vs axpy calls");
                }
            }
        }
    }

    @Test
    void threeHeadKernelsGiveBitwiseTheOneHeadResults() {
        // keyScores3 / axpyRows3 (three query heads per key or value load) against one head at a time: every score
        // and every weighted-sum element must carry the same bits, for whole and partial blocks, block sizes 16 and
        // 4 (below one vector: the scalar tail), head sizes around the vector widths
        for (int bs : new int[] {16, 4}) {
            for (int len : new int[] {8, 32, 64, 72}) {
                for (int count = 1; count <= bs; count++) {
                    String what = "bs=" + bs + " len=" + len + " count=" + count;
                    float[] q = random(3 * len + OFF, 5 * len + count, 1);
                    float[] kT = random(OFF + len * bs, 17 * len + count, 1);
                    int pad = VectorMath.lanes();
                    int w = count + pad;
                    float[] three = new float[OFF + 3 * w];
                    VectorMath.keyScores3(q, OFF, OFF + len, OFF + 2 * len, kT, OFF, bs, count, len, 0.125f,
                            three, OFF, OFF + w, OFF + 2 * w);
                    for (int h = 0; h < 3; h++) {
                        float[] one = new float[w];
                        VectorMath.keyScores(q, OFF + h * len, OFF + h * len, false, kT, OFF, bs, count, len, 0.125f, one, 0, 0);
                        for (int i = 0; i < count; i++) {
                            assertEquals(Float.floatToIntBits(one[i]), Float.floatToIntBits(three[OFF + h * w + i]),
                                    what + " head " + h + " position " + i);
                        }
                    }
                    float[] a = random(OFF + 3 * count, 23 * len + count, 1);
                    float[] v = random(OFF + count * len, 29 * len + count, 1);
                    float[] y = random(OFF + 3 * len, 31 * len + count, 1);
                    float[] y3 = y.clone();
                    VectorMath.axpyRows3(a, OFF, OFF + count, OFF + 2 * count, v, OFF, len, count, y3, OFF, OFF + len,
                            OFF + 2 * len, len);
                    float[] y1 = y.clone();
                    for (int h = 0; h < 3; h++) {
                        VectorMath.axpyRows(a, OFF + h * count, v, OFF, len, count, y1, OFF + h * len, len);
                    }
                    for (int c = 0; c < 3 * len; c++) {
                        assertEquals(Float.floatToIntBits(y1[OFF + c]), Float.floatToIntBits(y3[OFF + c]), what + " output " + c);
                    }
                }
            }
        }
    }

    @Test
    void twoBlockScoreKernelsGiveBitwiseWhatOneBlockAtATimeGives() {
        // keyScoresPair / keyScores3Pair (two KV blocks, wherever they lie, in one call) against one call per block:
        // the same bits for every visible position, second blocks whole or partial, 1 to 3 heads, and block sizes
        // of one vector (the paired kernels) and of one and a half (the per-block fallback)
        int lanes = VectorMath.lanes();
        for (int bs : new int[] {lanes, 16, 24}) {
            for (int len : new int[] {8, 64, 72}) {
                for (int countB = 1; countB <= bs; countB += Math.max(1, bs / 5)) {
                    String what = "bs=" + bs + " len=" + len + " countB=" + countB;
                    float[] q = random(3 * len + OFF, 7 * len + countB, 1);
                    // block A at OFF, block B two blocks further on (another page in the cache, as in a block table)
                    int kA = OFF;
                    int kB = OFF + 3 * len * bs;
                    float[] kT = random(kB + len * bs, 11 * len + countB, 1);
                    int w = 2 * bs + lanes; // per head: both blocks' scores and the padding a kernel may write
                    float[] pair = new float[OFF + 3 * w];
                    float[] apart = new float[OFF + 3 * w];
                    VectorMath.keyScores3Pair(q, OFF, OFF + len, OFF + 2 * len, kT, kA, kB, bs, bs, countB, len, 0.125f,
                            pair, OFF, OFF + w, OFF + 2 * w);
                    VectorMath.keyScores3(q, OFF, OFF + len, OFF + 2 * len, kT, kA, bs, bs, len, 0.125f,
                            apart, OFF, OFF + w, OFF + 2 * w);
                    VectorMath.keyScores3(q, OFF, OFF + len, OFF + 2 * len, kT, kB, bs, countB, len, 0.125f,
                            apart, OFF + bs, OFF + w + bs, OFF + 2 * w + bs);
                    float[] pair2 = new float[OFF + 2 * w];
                    VectorMath.keyScoresPair(q, OFF, OFF + len, true, kT, kA, kB, bs, bs, countB, len, 0.125f, pair2, OFF,
                            OFF + w);
                    float[] one = new float[OFF + w];
                    VectorMath.keyScoresPair(q, OFF + 2 * len, OFF, false, kT, kA, kB, bs, bs, countB, len, 0.125f, one,
                            OFF, OFF);
                    for (int h = 0; h < 3; h++) {
                        for (int i = 0; i < bs + countB; i++) {
                            int at = OFF + h * w + i;
                            String where = what + " head " + h + " position " + i;
                            assertEquals(Float.floatToIntBits(apart[at]), Float.floatToIntBits(pair[at]), where + " (3 heads)");
                            if (h < 2) {
                                assertEquals(Float.floatToIntBits(apart[at]), Float.floatToIntBits(pair2[at]),
                                        where + " (2 heads)");
                            } else {
                                assertEquals(Float.floatToIntBits(apart[at]), Float.floatToIntBits(one[OFF + i]),
                                        where + " (1 head)");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void twoBlockWeightedSumGivesBitwiseWhatOneBlockAtATimeGives() {
        // axpyRows3Pair (two blocks of value rows, outputs kept in registers between them) against axpyRows3 per
        // block, block A first: the same bits, for head sizes around the vector widths and partial blocks
        for (int len : new int[] {8, 64, 72}) {
            for (int countA : new int[] {1, 7, 16}) {
                for (int countB = 0; countB <= 16; countB += 5) {
                    String what = "len=" + len + " countA=" + countA + " countB=" + countB;
                    int n = countA + countB;
                    float[] a = random(OFF + 3 * n, 13 * len + n, 1);
                    int vA = OFF;
                    int vB = OFF + 3 * 16 * len; // another block further on
                    float[] v = random(vB + 16 * len, 19 * len + n, 1);
                    float[] y = random(OFF + 3 * len, 37 * len + n, 1);
                    float[] pair = y.clone();
                    VectorMath.axpyRows3Pair(a, OFF, OFF + n, OFF + 2 * n, v, vA, countA, vB, countB, len, pair, OFF,
                            OFF + len, OFF + 2 * len, len);
                    float[] apart = y.clone();
                    VectorMath.axpyRows3(a, OFF, OFF + n, OFF + 2 * n, v, vA, len, countA, apart, OFF, OFF + len,
                            OFF + 2 * len, len);
                    VectorMath.axpyRows3(a, OFF + countA, OFF + n + countA, OFF + 2 * n + countA, v, vB, len, countB,
                            apart, OFF, OFF + len, OFF + 2 * len, len);
                    for (int c = 0; c < 3 * len; c++) {
                        assertEquals(Float.floatToIntBits(apart[OFF + c]), Float.floatToIntBits(pair[OFF + c]),
                                what + " output " + c);
                    }
                }
            }
        }
    }
}
