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

        /** L bytes ANDed with {@code mask} (0x0F: the low nibbles; 0xF0: the high ones times 16), as floats. */
        static FloatVector masked(byte[] qs, int off, int mask) {
            return (FloatVector) widen(qs, off).and(mask).convertShape(VectorOperators.I2F, F, 0);
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
                    a0 = masked(qs, q0 + qo + l, mask).fma(d0, m0).fma(v, a0);
                    a1 = masked(qs, q1 + qo + l, mask).fma(d1, m1).fma(v, a1);
                    a2 = masked(qs, q2 + qo + l, mask).fma(d2, m2).fma(v, a2);
                    a3 = masked(qs, q3 + qo + l, mask).fma(d3, m3).fma(v, a3);
                }
            }
            SimdFloatKernels.storeLaneSums(a0, a1, a2, a3, out, r, stride);
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
