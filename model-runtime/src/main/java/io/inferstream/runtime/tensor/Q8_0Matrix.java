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
 * Q8_0 weights. ggml block_q8_0 = {half d; int8 qs[32]}: value = d · q.
 * Repacked at load into {@code quants} (the qs of all blocks back to back, [rows, cols]) and
 * {@code scales} (d as float, [rows, cols/32]).
 */
final class Q8_0Matrix extends Matrix {

    private final byte[] quants; // [rows, cols]
    private final float[] scales; // [rows, cols / 32]

    private Q8_0Matrix(byte[] quants, float[] scales, int rows, int cols, String name) {
        super(rows, cols, name);
        this.quants = quants;
        this.scales = scales;
    }

    static Q8_0Matrix load(ByteBuffer b, int rows, int cols, String name) {
        int blocks = rows * (cols / 32);
        byte[] q = new byte[rows * cols];
        float[] d = new float[blocks];
        for (int i = 0; i < blocks; i++) {
            int off = i * 34;
            d[i] = Float16.toFloat(b.getShort(off));
            b.get(off + 2, q, i * 32, 32);
        }
        return new Q8_0Matrix(q, d, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int blocks = cols / 32;
        for (int b = 0; b < blocks; b++) {
            float d = scales[row * blocks + b];
            int q = row * cols + b * 32;
            int o = dstOffset + b * 32;
            for (int j = 0; j < 32; j++) {
                dst[o + j] = d * quants[q + j];
            }
        }
    }

    @Override
    float dotSimd(int row, float[] x, int xOffset) {
        return Simd.dot(quants, scales, row, cols, x, xOffset);
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        Simd.decode(quants, scales, row, cols, dst, dstOffset);
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

        static FloatVector load(byte[] q, int off) {
            return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0);
        }

        static float dot(byte[] q, float[] d, int row, int cols, float[] x, int xOff) {
            int blocks = cols / 32;
            int qBase = row * cols;
            int dBase = row * blocks;
            FloatVector acc = FloatVector.zero(F);
            if (L == 8) { // AVX2: written out (the JIT does not unroll the generic loop as well)
                for (int b = 0; b < blocks; b++) {
                    int qo = qBase + b * 32;
                    int xo = xOff + b * 32;
                    FloatVector p = load(q, qo).mul(FloatVector.fromArray(F, x, xo));
                    p = load(q, qo + 8).fma(FloatVector.fromArray(F, x, xo + 8), p);
                    p = load(q, qo + 16).fma(FloatVector.fromArray(F, x, xo + 16), p);
                    p = load(q, qo + 24).fma(FloatVector.fromArray(F, x, xo + 24), p);
                    acc = p.fma(FloatVector.broadcast(F, d[dBase + b]), acc);
                }
            } else {
                for (int b = 0; b < blocks; b++) {
                    int qo = qBase + b * 32;
                    int xo = xOff + b * 32;
                    FloatVector p = load(q, qo).mul(FloatVector.fromArray(F, x, xo));
                    for (int j = L; j < 32; j += L) {
                        p = load(q, qo + j).fma(FloatVector.fromArray(F, x, xo + j), p);
                    }
                    acc = p.fma(FloatVector.broadcast(F, d[dBase + b]), acc);
                }
            }
            return acc.reduceLanes(VectorOperators.ADD);
        }

        static void decode(byte[] q, float[] d, int row, int cols, float[] dst, int dOff) {
            int blocks = cols / 32;
            for (int b = 0; b < blocks; b++) {
                FloatVector s = FloatVector.broadcast(F, d[row * blocks + b]);
                int qo = row * cols + b * 32;
                for (int j = 0; j < 32; j += L) {
                    load(q, qo + j).mul(s).intoArray(dst, dOff + b * 32 + j);
                }
            }
        }
    }
}
