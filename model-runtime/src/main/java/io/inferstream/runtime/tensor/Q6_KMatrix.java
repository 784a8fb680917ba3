package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q6_K weights. ggml (ggml-quants.c, QK_K = 256):
 * <pre>
 * block_q6_K = { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }   // 210 bytes, 256 values
 * </pre>
 * value = d · scales[k] · (q − 32) for the 16 sub-blocks k of 16 values, q 6 bits: per half of 128 values
 * (ql += 64, qh += 32 for the second), value l+32·i (l &lt; 32) takes its low 4 bits from ql[l] (i=0 low
 * nibble, i=2 high), ql[l+32] (i=1 low, i=3 high) and its high 2 bits from qh[l] bits 2i..2i+1.
 * Repacked at load into one signed byte per value (q − 32, [rows, cols]) and {@code scales} (d·scales[k],
 * [rows, cols/16]): 10 bits per weight instead of 6.6, for the simple Q8_0-like kernel.
 */
final class Q6_KMatrix extends Matrix {

    private final byte[] quants;  // [rows, cols], q − 32 in -32..31
    private final float[] scales; // [rows, cols / 16]

    private Q6_KMatrix(byte[] quants, float[] scales, int rows, int cols, String name) {
        super(rows, cols, name);
        this.quants = quants;
        this.scales = scales;
    }

    static Q6_KMatrix load(ByteBuffer b, int rows, int cols, String name) {
        int superBlocks = rows * (cols / 256);
        byte[] q = new byte[rows * cols];
        float[] s = new float[superBlocks * 16];
        byte[] block = new byte[210];
        for (int i = 0; i < superBlocks; i++) {
            b.get(i * 210, block, 0, 210);
            float d = Float16.toFloat((short) ((block[208] & 0xFF) | (block[209] << 8)));
            for (int k = 0; k < 16; k++) {
                s[i * 16 + k] = d * block[192 + k];
            }
            int out = i * 256;
            for (int half = 0; half < 2; half++) {
                int ql = half * 64;
                int qh = 128 + half * 32;
                int y = out + half * 128;
                for (int l = 0; l < 32; l++) {
                    int h = block[qh + l] & 0xFF;
                    int lo0 = block[ql + l] & 0xFF;
                    int lo1 = block[ql + l + 32] & 0xFF;
                    q[y + l] = (byte) (((lo0 & 0xF) | ((h & 3) << 4)) - 32);
                    q[y + l + 32] = (byte) (((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32);
                    q[y + l + 64] = (byte) (((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32);
                    q[y + l + 96] = (byte) (((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32);
                }
            }
        }
        return new Q6_KMatrix(q, s, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q6_K;
    }

    @Override
    public QuantPlanes planes() {
        return new QuantPlanes(GgmlType.Q6_K, quants, scales, null, 16);
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int groups = cols / 16;
        for (int g = 0; g < groups; g++) {
            float d = scales[row * groups + g];
            int q = row * cols + g * 16;
            int o = dstOffset + g * 16;
            for (int j = 0; j < 16; j++) {
                dst[o + j] = d * quants[q + j];
            }
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        Simd.decode(quants, scales, row, cols, dst, dstOffset);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(quants, scales, r, stride, cols, x, out);
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

        static FloatVector load(byte[] q, int off) {
            return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0);
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token, decoding fused in with {@link #decode}'s
         * arithmetic (see Matrix).
         */
        static void fourRows(byte[] q, float[] s, int r, int stride, int cols, float[] x, float[] out) {
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
                int o = g * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, o + j);
                    a0 = load(q, q0 + o + j).mul(s0).fma(v, a0);
                    a1 = load(q, q1 + o + j).mul(s1).fma(v, a1);
                    a2 = load(q, q2 + o + j).mul(s2).fma(v, a2);
                    a3 = load(q, q3 + o + j).mul(s3).fma(v, a3);
                }
            }
            SimdFloatKernels.storeLaneSums(a0, a1, a2, a3, out, r, stride);
        }

        static void decode(byte[] q, float[] s, int row, int cols, float[] dst, int dOff) {
            int groups = cols / 16;
            for (int g = 0; g < groups; g++) {
                FloatVector d = FloatVector.broadcast(F, s[row * groups + g]);
                int qo = row * cols + g * 16;
                for (int j = 0; j < 16; j += L) {
                    load(q, qo + j).mul(d).intoArray(dst, dOff + g * 16 + j);
                }
            }
        }
    }
}
