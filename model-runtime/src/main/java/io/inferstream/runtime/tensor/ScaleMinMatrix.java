package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_1, Q5_0, Q5_1, Q5_K and Q2_K weights, all of the form value = q·scale − min per group of 32 weights (16 for Q2_K)
 * with a small integer q (ggml-quants.c, {@code dequantize_row_*}):
 * <pre>
 * block_q4_1 = { half d; half m; uint8 qs[16]; }                 // 32 values: q = nibble, x = d·q + m
 * block_q5_0 = { half d; uint8 qh[4]; uint8 qs[16]; }            // 32 values: q = nibble | bit j of qh &lt;&lt; 4, x = d·(q − 16)
 * block_q5_1 = { half d; half m; uint8 qh[4]; uint8 qs[16]; }    // 32 values: as Q5_0's q, x = d·q + m
 * block_q5_K = { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }   // 256 values in 8 groups of 32:
 *              q = nibble | bit j of qh[i] &lt;&lt; 4 for value i of group j, x = d·sc_j·q − dmin·m_j (Q4_K's 6-bit sc, m)
 * block_q2_K = { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }  // 256 values in 16 groups of 16:
 *              value 32·j + l of half h (l &lt; 32) is q = 2 bits of qs[32·h + l] at bit 2·j, x = d·(sc &amp; 15)·q − dmin·(sc &gt;&gt; 4)
 * </pre>
 * In the 32-value blocks element j &lt; 16 is the low nibble of qs[j] and element j + 16 its high nibble; in Q5_K group j
 * takes the low (even j) or high (odd j) nibbles of qs[32·(j/2) ..]. Repacked at load into one byte per weight
 * ({@code quants}, Q5_0's as q − 16) and a float scale and min per group ({@code d}, {@code d·sc}; {@code −m},
 * {@code dmin·m}, 0 for Q5_0), so one kernel decodes all five with the same float operations as the reference: q·scale, then − min
 * (Q5_0's d·(q − 16) exactly, −0 included). A byte per weight is more than the file's 2.6-5.5 bits, and less than F16.
 */
final class ScaleMinMatrix extends Matrix {

    private final GgmlType type;
    private final int group;     // weights per scale and min: 32, or 16 for Q2_K
    private final byte[] quants; // [rows, cols]
    private final float[] scales; // [rows, cols / group]
    private final float[] mins;   // [rows, cols / group]

    private ScaleMinMatrix(GgmlType type, byte[] quants, float[] scales, float[] mins, int rows, int cols, String name) {
        super(rows, cols, name);
        this.type = type;
        this.group = type == GgmlType.Q2_K ? 16 : 32;
        this.quants = quants;
        this.scales = scales;
        this.mins = mins;
    }

    static ScaleMinMatrix load(GgmlType type, ByteBuffer b, int rows, int cols, String name) {
        if (type == GgmlType.Q2_K) {
            return q2K(b, rows, cols, name);
        }
        int groups = rows * (cols / 32);
        byte[] q = new byte[rows * cols];
        float[] sc = new float[groups];
        float[] mn = new float[groups];
        if (type == GgmlType.Q5_K) {
            byte[] packed = new byte[12];
            for (int s = 0; s < groups / 8; s++) { // super-blocks of 256
                int off = s * 176;
                float d = Float16.toFloat(b.getShort(off));
                float dmin = Float16.toFloat(b.getShort(off + 2));
                b.get(off + 4, packed, 0, 12);
                for (int j = 0; j < 8; j++) {
                    sc[8 * s + j] = d * Quantizer.scaleK4(packed, j);
                    mn[8 * s + j] = dmin * Quantizer.minK4(packed, j);
                    for (int i = 0; i < 32; i++) {
                        int low = ((b.get(off + 48 + 32 * (j / 2) + i) & 0xFF) >> (4 * (j % 2))) & 0xF;
                        int high = ((b.get(off + 16 + i) & 0xFF) >> j) & 1;
                        q[256 * s + 32 * j + i] = (byte) (low | high << 4);
                    }
                }
            }
            return new ScaleMinMatrix(type, q, sc, mn, rows, cols, name);
        }
        boolean hasMin = type == GgmlType.Q4_1 || type == GgmlType.Q5_1;
        boolean fiveBits = type != GgmlType.Q4_1;
        int size = type.typeSize();
        for (int g = 0; g < groups; g++) {
            int off = g * size;
            sc[g] = Float16.toFloat(b.getShort(off));
            mn[g] = hasMin ? -Float16.toFloat(b.getShort(off + 2)) : 0f;
            int qh = fiveBits ? b.getInt(off + (hasMin ? 4 : 2)) : 0;
            int qs = off + (hasMin ? 4 : 2) + (fiveBits ? 4 : 0);
            for (int j = 0; j < 16; j++) {
                int v = b.get(qs + j) & 0xFF;
                int lo = (v & 0xF) | ((qh >>> j) & 1) << 4;
                int hi = (v >> 4) | ((qh >>> (j + 16)) & 1) << 4;
                int bias = type == GgmlType.Q5_0 ? 16 : 0;
                q[32 * g + j] = (byte) (lo - bias);
                q[32 * g + j + 16] = (byte) (hi - bias);
            }
        }
        return new ScaleMinMatrix(type, q, sc, mn, rows, cols, name);
    }

    private static ScaleMinMatrix q2K(ByteBuffer b, int rows, int cols, String name) {
        int blocks = rows * (cols / 256);
        byte[] q = new byte[rows * cols];
        float[] sc = new float[blocks * 16];
        float[] mn = new float[blocks * 16];
        for (int i = 0; i < blocks; i++) {
            int off = i * 84;
            float d = Float16.toFloat(b.getShort(off + 80));
            float dmin = Float16.toFloat(b.getShort(off + 82));
            for (int g = 0; g < 16; g++) {
                int s = b.get(off + g) & 0xFF;
                sc[16 * i + g] = d * (s & 0xF);
                mn[16 * i + g] = dmin * (s >> 4);
            }
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    for (int l = 0; l < 32; l++) {
                        q[256 * i + 128 * h + 32 * j + l] = (byte) (((b.get(off + 16 + 32 * h + l) & 0xFF) >> (2 * j)) & 3);
                    }
                }
            }
        }
        return new ScaleMinMatrix(GgmlType.Q2_K, q, sc, mn, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return type;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int groups = cols / group;
        for (int g = 0; g < groups; g++) {
            float s = scales[row * groups + g];
            float m = mins[row * groups + g];
            int q = row * cols + g * group;
            int o = dstOffset + g * group;
            for (int j = 0; j < group; j++) {
                dst[o + j] = quants[q + j] * s - m;
            }
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        if (group == 16) {
            Simd.decode16(quants, scales, mins, row, cols, dst, dstOffset);
        } else {
            Simd.decode32(quants, scales, mins, row, cols, dst, dstOffset);
        }
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        if (group == 16) {
            Simd.fourRows16(quants, scales, mins, r, stride, cols, x, out);
        } else {
            Simd.fourRows32(quants, scales, mins, r, stride, cols, x, out);
        }
    }

    /**
     * Two and three tokens decode each weight once in registers for all of them ({@link Simd#fourRows32x2},
     * {@link Simd#fourRows32x3}; Q2_K's groups of 16 in {@link Simd#fourRows16x2}, {@link Simd#fourRows16x3}); four and
     * five tokens take the default (rows decoded into a buffer, then a 4 × 4 tile), as {@link Q4_KMatrix} does.
     */
    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        if (n > 3) {
            super.fourRowsTokensSimd(r, stride, x, n, out);
        } else if (group == 16) {
            if (n == 3) {
                Simd.fourRows16x3(quants, scales, mins, r, stride, cols, x, out, rows);
            } else {
                Simd.fourRows16x2(quants, scales, mins, r, stride, cols, x, out, rows);
            }
        } else if (n == 3) {
            Simd.fourRows32x3(quants, scales, mins, r, stride, cols, x, out, rows);
        } else {
            Simd.fourRows32x2(quants, scales, mins, r, stride, cols, x, out, rows);
        }
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

        static FloatVector load(byte[] q, int off) {
            return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0);
        }

        // One copy per group size, each with a constant inner bound that C2 unrolls: with the group as a variable bound
        // the sums stayed boxed across the nested loops on AVX2, 8x slower (MatmulBenchmark, Q6_K 3072x1024 one token)
        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token with decoding fused in: w = q·scale − min as
         * {@link #decode32} computes it, then acc = fma(w, x, acc) per row in column order: the batched tiles' arithmetic.
         */
        static void fourRows16(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out) {
            int groups = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, o + j);
                    a0 = load(q, q0 + o + j).mul(s0).sub(m0).fma(v, a0);
                    a1 = load(q, q1 + o + j).mul(s1).sub(m1).fma(v, a1);
                    a2 = load(q, q2 + o + j).mul(s2).sub(m2).fma(v, a2);
                    a3 = load(q, q3 + o + j).mul(s3).sub(m3).fma(v, a3);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a0);
            out[r + stride] = SimdFloatKernels.laneSum(a1);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a2);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a3);
        }

        static void fourRows32(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out) {
            int groups = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, o + j);
                    a0 = load(q, q0 + o + j).mul(s0).sub(m0).fma(v, a0);
                    a1 = load(q, q1 + o + j).mul(s1).sub(m1).fma(v, a1);
                    a2 = load(q, q2 + o + j).mul(s2).sub(m2).fma(v, a2);
                    a3 = load(q, q3 + o + j).mul(s3).sub(m3).fma(v, a3);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a0);
            out[r + stride] = SimdFloatKernels.laneSum(a1);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a2);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a3);
        }

        /** {@link #fourRows32} for 2 tokens (x[t·cols..], out[t·rows + ..]): each weight decoded once feeds 2 FMA chains. */
        static void fourRows32x2(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out,
                int rows) {
            int groups = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0).sub(m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1).sub(m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2).sub(m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3).sub(m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a00);
            out[rows + r] = SimdFloatKernels.laneSum(a01);
            out[r + stride] = SimdFloatKernels.laneSum(a10);
            out[rows + r + stride] = SimdFloatKernels.laneSum(a11);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[rows + r + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[rows + r + 3 * stride] = SimdFloatKernels.laneSum(a31);
        }

        /** {@link #fourRows32} for 3 tokens (x[t·cols..], out[t·rows + ..]): each weight decoded once feeds 3 FMA chains. */
        static void fourRows32x3(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out,
                int rows) {
            int groups = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, cols + o + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, 2 * cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0).sub(m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1).sub(m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2).sub(m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3).sub(m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                    a32 = u3.fma(v2, a32);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a00);
            out[rows + r] = SimdFloatKernels.laneSum(a01);
            out[2 * rows + r] = SimdFloatKernels.laneSum(a02);
            out[r + stride] = SimdFloatKernels.laneSum(a10);
            out[rows + r + stride] = SimdFloatKernels.laneSum(a11);
            out[2 * rows + r + stride] = SimdFloatKernels.laneSum(a12);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[rows + r + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[2 * rows + r + 2 * stride] = SimdFloatKernels.laneSum(a22);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[rows + r + 3 * stride] = SimdFloatKernels.laneSum(a31);
            out[2 * rows + r + 3 * stride] = SimdFloatKernels.laneSum(a32);
        }

        /** {@link #fourRows16} for 2 tokens (x[t·cols..], out[t·rows + ..]): each weight decoded once feeds 2 FMA chains. */
        static void fourRows16x2(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out,
                int rows) {
            int groups = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0).sub(m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1).sub(m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2).sub(m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3).sub(m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a00);
            out[rows + r] = SimdFloatKernels.laneSum(a01);
            out[r + stride] = SimdFloatKernels.laneSum(a10);
            out[rows + r + stride] = SimdFloatKernels.laneSum(a11);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[rows + r + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[rows + r + 3 * stride] = SimdFloatKernels.laneSum(a31);
        }

        /** {@link #fourRows16} for 3 tokens (x[t·cols..], out[t·rows + ..]): each weight decoded once feeds 3 FMA chains. */
        static void fourRows16x3(byte[] q, float[] s, float[] m, int r, int stride, int cols, float[] x, float[] out,
                int rows) {
            int groups = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                FloatVector m0 = FloatVector.broadcast(F, m[g0 + g]);
                FloatVector m1 = FloatVector.broadcast(F, m[g1 + g]);
                FloatVector m2 = FloatVector.broadcast(F, m[g2 + g]);
                FloatVector m3 = FloatVector.broadcast(F, m[g3 + g]);
                int o = g * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, cols + o + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, 2 * cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0).sub(m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1).sub(m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2).sub(m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3).sub(m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                    a32 = u3.fma(v2, a32);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a00);
            out[rows + r] = SimdFloatKernels.laneSum(a01);
            out[2 * rows + r] = SimdFloatKernels.laneSum(a02);
            out[r + stride] = SimdFloatKernels.laneSum(a10);
            out[rows + r + stride] = SimdFloatKernels.laneSum(a11);
            out[2 * rows + r + stride] = SimdFloatKernels.laneSum(a12);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[rows + r + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[2 * rows + r + 2 * stride] = SimdFloatKernels.laneSum(a22);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[rows + r + 3 * stride] = SimdFloatKernels.laneSum(a31);
            out[2 * rows + r + 3 * stride] = SimdFloatKernels.laneSum(a32);
        }

        static void decode16(byte[] q, float[] s, float[] m, int row, int cols, float[] dst, int dOff) {
            int groups = cols / 16;
            for (int g = 0; g < groups; g++) {
                FloatVector sv = FloatVector.broadcast(F, s[row * groups + g]);
                FloatVector mv = FloatVector.broadcast(F, m[row * groups + g]);
                int qo = row * cols + g * 16;
                int o = dOff + g * 16;
                for (int j = 0; j < 16; j += L) {
                    load(q, qo + j).mul(sv).sub(mv).intoArray(dst, o + j);
                }
            }
        }

        static void decode32(byte[] q, float[] s, float[] m, int row, int cols, float[] dst, int dOff) {
            int groups = cols / 32;
            for (int g = 0; g < groups; g++) {
                FloatVector sv = FloatVector.broadcast(F, s[row * groups + g]);
                FloatVector mv = FloatVector.broadcast(F, m[row * groups + g]);
                int qo = row * cols + g * 32;
                int o = dOff + g * 32;
                for (int j = 0; j < 32; j += L) {
                    load(q, qo + j).mul(sv).sub(mv).intoArray(dst, o + j);
                }
            }
        }
    }
}
