package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_K weights. ggml (ggml-quants.c, QK_K = 256):
 * <pre>
 * block_q4_K = { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }   // 144 bytes, 256 values
 * </pre>
 * 8 sub-blocks of 32 values; sub-block j has a 6-bit scale sc_j and min m_j packed in {@code scales}
 * (get_scale_min_k4: j &lt; 4: sc = s[j] &amp; 63, m = s[j+4] &amp; 63; else sc = (s[j+4] &amp; 0xF) | (s[j-4] &gt;&gt; 6) &lt;&lt; 4,
 * m = (s[j+4] &gt;&gt; 4) | (s[j] &gt;&gt; 6) &lt;&lt; 4); value = d·sc_j·q − dmin·m_j with 4-bit q. {@code qs} holds 4
 * chunks of 64 values, each 32 bytes whose low nibbles are sub-block 2k and high nibbles sub-block 2k+1.
 * Repacked at load into {@code nibbles} (qs, [rows, cols/2]), {@code scales} (d·sc) and {@code mins}
 * (dmin·m), both [rows, cols/32].
 */
final class Q4_KMatrix extends Matrix {

    private final byte[] nibbles; // [rows, cols / 2]
    private final float[] scales; // [rows, cols / 32]
    private final float[] mins;   // [rows, cols / 32]

    private Q4_KMatrix(byte[] nibbles, float[] scales, float[] mins, int rows, int cols, String name) {
        super(rows, cols, name);
        this.nibbles = nibbles;
        this.scales = scales;
        this.mins = mins;
    }

    static Q4_KMatrix load(ByteBuffer b, int rows, int cols, String name) {
        int superBlocks = rows * (cols / 256);
        byte[] qs = new byte[superBlocks * 128];
        float[] sc = new float[superBlocks * 8];
        float[] mn = new float[superBlocks * 8];
        byte[] packed = new byte[12];
        for (int i = 0; i < superBlocks; i++) {
            int off = i * 144;
            float d = Float16.toFloat(b.getShort(off));
            float dmin = Float16.toFloat(b.getShort(off + 2));
            b.get(off + 4, packed, 0, 12);
            for (int j = 0; j < 8; j++) {
                sc[i * 8 + j] = d * Quantizer.scaleK4(packed, j);
                mn[i * 8 + j] = dmin * Quantizer.minK4(packed, j);
            }
            b.get(off + 16, qs, i * 128, 128);
        }
        return new Q4_KMatrix(qs, sc, mn, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_K;
    }

    @Override
    public QuantPlanes planes() {
        return new QuantPlanes(GgmlType.Q4_K, nibbles, scales, mins, 32);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int subBlocks = cols / 32;
        for (int chunk = 0; chunk < cols / 64; chunk++) {
            int sb = row * subBlocks + 2 * chunk;
            float d1 = scales[sb];
            float m1 = mins[sb];
            float d2 = scales[sb + 1];
            float m2 = mins[sb + 1];
            int q = (row * cols + chunk * 64) / 2;
            int o = dstOffset + chunk * 64;
            for (int l = 0; l < 32; l++) {
                int v = nibbles[q + l] & 0xFF;
                dst[o + l] = d1 * (v & 0xF) - m1;
                dst[o + 32 + l] = d2 * (v >> 4) - m2;
            }
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        Simd.decode(nibbles, scales, mins, row, cols, dst, dstOffset);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(nibbles, scales, mins, r, stride, cols, x, out);
    }

    /**
     * Two and three tokens decode each weight once in registers for all of them ({@link Simd#fourRows2},
     * {@link Simd#fourRows3}). Four and five take the default, four rows decoded into a buffer and met by a 4 × 4
     * tile: two fused passes (2 + 2, 3 + 2) decode every weight twice, and measured slower at the Llama-3.2-1B
     * shape (four tokens 182-214 ms against 154-172 ms a step's products).
     */
    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        if (n > 3) {
            super.fourRowsTokensSimd(r, stride, x, n, out);
        } else if (n == 3) {
            Simd.fourRows3(nibbles, scales, mins, r, stride, cols, x, 0, out, r, rows);
        } else {
            Simd.fourRows2(nibbles, scales, mins, r, stride, cols, x, 0, out, r, rows);
        }
    }

    /**
     * Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. Nibbles
     * are split after widening the bytes to int lanes (int AND/shift are single AVX2 instructions, byte
     * shifts are emulated).
     */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
        static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

        static IntVector widen(byte[] qs, int off) {
            return (IntVector) ByteVector.fromArray(B, qs, off).convertShape(VectorOperators.B2I, I, 0);
        }

        static FloatVector low(IntVector v) {
            return (FloatVector) v.and(0xF).convertShape(VectorOperators.I2F, F, 0);
        }

        static FloatVector high(IntVector v) {
            return (FloatVector) v.lanewise(VectorOperators.ASHR, 4).and(0xF).convertShape(VectorOperators.I2F, F, 0);
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token with decoding fused in: each weight is
         * {@link #decode}'s fma(q, d, −m), met by x in column order (a chunk's 32 low nibbles, then its 32 high
         * ones), so each row's FMA chain is the one {@link SimdFloatKernels#tile4x1} runs over decoded rows.
         */
        static void fourRows(byte[] qs, float[] sc, float[] mn, int r, int stride, int cols, float[] x, float[] out) {
            int subBlocks = cols / 32;
            int bytes = cols / 2;
            int q0 = r * bytes;
            int q1 = q0 + stride * bytes;
            int q2 = q1 + stride * bytes;
            int q3 = q2 + stride * bytes;
            int s0 = r * subBlocks;
            int s1 = s0 + stride * subBlocks;
            int s2 = s1 + stride * subBlocks;
            int s3 = s2 + stride * subBlocks;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            // sub-block by sub-block: the low nibbles of a 64-value chunk's 32 bytes, then their high nibbles
            for (int sb = 0; sb < subBlocks; sb++) {
                int qo = (sb >> 1) * 32;
                // a high nibble is taken in place (v & 0xF0 = 16·q) and its scale divided by 16: 16q · d/16 is q·d
                // exactly (both factors scaled by powers of two), so the FMA chains are the decoded rows' bit for bit
                int mask = (sb & 1) == 0 ? 0x0F : 0xF0;
                float unit = (sb & 1) == 0 ? 1f : 0.0625f;
                FloatVector d0 = FloatVector.broadcast(F, sc[s0 + sb] * unit);
                FloatVector d1 = FloatVector.broadcast(F, sc[s1 + sb] * unit);
                FloatVector d2 = FloatVector.broadcast(F, sc[s2 + sb] * unit);
                FloatVector d3 = FloatVector.broadcast(F, sc[s3 + sb] * unit);
                FloatVector m0 = FloatVector.broadcast(F, -mn[s0 + sb]);
                FloatVector m1 = FloatVector.broadcast(F, -mn[s1 + sb]);
                FloatVector m2 = FloatVector.broadcast(F, -mn[s2 + sb]);
                FloatVector m3 = FloatVector.broadcast(F, -mn[s3 + sb]);
                for (int l = 0; l < 32; l += L) {
                    FloatVector v = FloatVector.fromArray(F, x, sb * 32 + l);
                    a0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q0 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d0, m0).fma(v, a0);
                    a1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q1 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d1, m1).fma(v, a1);
                    a2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q2 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d2, m2).fma(v, a2);
                    a3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q3 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d3, m3).fma(v, a3);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a0);
            out[r + stride] = SimdFloatKernels.laneSum(a1);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a2);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a3);
        }

        /**
         * {@link #fourRows} for 2 tokens at once (x[xOff + t·cols..]): each weight, decoded once in registers, feeds
         * both tokens' FMA chains. The widening and the nibble's fma(q, d, −m) cost more than the products, so a
         * second token costs a fraction of the first (decoded into a buffer instead, two tokens took 1.7× one).
         */
        static void fourRows2(byte[] qs, float[] sc, float[] mn, int r, int stride, int cols, float[] x, int xOff,
                              float[] out, int outOff, int rows) {
            int subBlocks = cols / 32;
            int bytes = cols / 2;
            int q0 = r * bytes;
            int q1 = q0 + stride * bytes;
            int q2 = q1 + stride * bytes;
            int q3 = q2 + stride * bytes;
            int s0 = r * subBlocks;
            int s1 = s0 + stride * subBlocks;
            int s2 = s1 + stride * subBlocks;
            int s3 = s2 + stride * subBlocks;
            int x1 = xOff + cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int sb = 0; sb < subBlocks; sb++) {
                int qo = (sb >> 1) * 32;
                int mask = (sb & 1) == 0 ? 0x0F : 0xF0;
                float unit = (sb & 1) == 0 ? 1f : 0.0625f; // as in fourRows: 16q · d/16 is q·d exactly
                FloatVector d0 = FloatVector.broadcast(F, sc[s0 + sb] * unit);
                FloatVector d1 = FloatVector.broadcast(F, sc[s1 + sb] * unit);
                FloatVector d2 = FloatVector.broadcast(F, sc[s2 + sb] * unit);
                FloatVector d3 = FloatVector.broadcast(F, sc[s3 + sb] * unit);
                FloatVector m0 = FloatVector.broadcast(F, -mn[s0 + sb]);
                FloatVector m1 = FloatVector.broadcast(F, -mn[s1 + sb]);
                FloatVector m2 = FloatVector.broadcast(F, -mn[s2 + sb]);
                FloatVector m3 = FloatVector.broadcast(F, -mn[s3 + sb]);
                for (int l = 0; l < 32; l += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + sb * 32 + l);
                    FloatVector v1 = FloatVector.fromArray(F, x, x1 + sb * 32 + l);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q0 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d0, m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q1 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d1, m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q2 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d2, m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q3 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d3, m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                }
            }
            out[outOff] = SimdFloatKernels.laneSum(a00);
            out[outOff + rows] = SimdFloatKernels.laneSum(a01);
            out[outOff + stride] = SimdFloatKernels.laneSum(a10);
            out[outOff + rows + stride] = SimdFloatKernels.laneSum(a11);
            out[outOff + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[outOff + rows + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[outOff + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[outOff + rows + 3 * stride] = SimdFloatKernels.laneSum(a31);
        }

        /** {@link #fourRows2} for 3 tokens at once: each weight decoded once feeds 3 FMA chains. */
        static void fourRows3(byte[] qs, float[] sc, float[] mn, int r, int stride, int cols, float[] x, int xOff,
                              float[] out, int outOff, int rows) {
            int subBlocks = cols / 32;
            int bytes = cols / 2;
            int q0 = r * bytes;
            int q1 = q0 + stride * bytes;
            int q2 = q1 + stride * bytes;
            int q3 = q2 + stride * bytes;
            int s0 = r * subBlocks;
            int s1 = s0 + stride * subBlocks;
            int s2 = s1 + stride * subBlocks;
            int s3 = s2 + stride * subBlocks;
            int x1 = xOff + cols;
            int x2 = x1 + cols;
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
            for (int sb = 0; sb < subBlocks; sb++) {
                int qo = (sb >> 1) * 32;
                int mask = (sb & 1) == 0 ? 0x0F : 0xF0;
                float unit = (sb & 1) == 0 ? 1f : 0.0625f;
                FloatVector d0 = FloatVector.broadcast(F, sc[s0 + sb] * unit);
                FloatVector d1 = FloatVector.broadcast(F, sc[s1 + sb] * unit);
                FloatVector d2 = FloatVector.broadcast(F, sc[s2 + sb] * unit);
                FloatVector d3 = FloatVector.broadcast(F, sc[s3 + sb] * unit);
                FloatVector m0 = FloatVector.broadcast(F, -mn[s0 + sb]);
                FloatVector m1 = FloatVector.broadcast(F, -mn[s1 + sb]);
                FloatVector m2 = FloatVector.broadcast(F, -mn[s2 + sb]);
                FloatVector m3 = FloatVector.broadcast(F, -mn[s3 + sb]);
                for (int l = 0; l < 32; l += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + sb * 32 + l);
                    FloatVector v1 = FloatVector.fromArray(F, x, x1 + sb * 32 + l);
                    FloatVector v2 = FloatVector.fromArray(F, x, x2 + sb * 32 + l);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q0 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d0, m0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q1 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d1, m1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q2 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d2, m2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, q3 + qo + l)
                            .convertShape(VectorOperators.B2I, I, 0)).and(mask).convertShape(VectorOperators.I2F, F, 0))
                            .fma(d3, m3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                    a32 = u3.fma(v2, a32);
                }
            }
            out[outOff] = SimdFloatKernels.laneSum(a00);
            out[outOff + rows] = SimdFloatKernels.laneSum(a01);
            out[outOff + 2 * rows] = SimdFloatKernels.laneSum(a02);
            out[outOff + stride] = SimdFloatKernels.laneSum(a10);
            out[outOff + rows + stride] = SimdFloatKernels.laneSum(a11);
            out[outOff + 2 * rows + stride] = SimdFloatKernels.laneSum(a12);
            out[outOff + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[outOff + rows + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[outOff + 2 * rows + 2 * stride] = SimdFloatKernels.laneSum(a22);
            out[outOff + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[outOff + rows + 3 * stride] = SimdFloatKernels.laneSum(a31);
            out[outOff + 2 * rows + 3 * stride] = SimdFloatKernels.laneSum(a32);
        }

        static void decode(byte[] qs, float[] sc, float[] mn, int row, int cols, float[] dst, int dOff) {
            int subBlocks = cols / 32;
            for (int chunk = 0; chunk < cols / 64; chunk++) {
                int sb = row * subBlocks + 2 * chunk;
                FloatVector d1 = FloatVector.broadcast(F, sc[sb]);
                FloatVector m1 = FloatVector.broadcast(F, -mn[sb]);
                FloatVector d2 = FloatVector.broadcast(F, sc[sb + 1]);
                FloatVector m2 = FloatVector.broadcast(F, -mn[sb + 1]);
                int q = (row * cols + chunk * 64) / 2;
                int o = dOff + chunk * 64;
                for (int l = 0; l < 32; l += L) {
                    IntVector v = widen(qs, q + l);
                    low(v).fma(d1, m1).intoArray(dst, o + l);
                    high(v).fma(d2, m2).intoArray(dst, o + 32 + l);
                }
            }
        }
    }
}
