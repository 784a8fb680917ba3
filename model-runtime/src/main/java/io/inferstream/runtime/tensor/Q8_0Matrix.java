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
    public QuantPlanes planes() {
        return new QuantPlanes(GgmlType.Q8_0, quants, scales, null, 32);
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
    static final class Simd { // package-private: ScaleMatrix runs IQ4_NL and IQ4_XS (a byte and a scale per 32) through it
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

        static FloatVector load(byte[] q, int off) {
            return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0);
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token with decoding fused in: w = float(q)·d as
         * {@link #decode} computes it, then acc = fma(w, x, acc) per row in column order, exactly the batched
         * tiles' arithmetic.
         */
        static void fourRows(byte[] q, float[] d, int r, int stride, int cols, float[] x, float[] out) {
            int blocks = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int d0 = r * blocks;
            int d1 = d0 + stride * blocks;
            int d2 = d1 + stride * blocks;
            int d3 = d2 + stride * blocks;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int o = b * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, o + j);
                    a0 = load(q, q0 + o + j).mul(s0).fma(v, a0);
                    a1 = load(q, q1 + o + j).mul(s1).fma(v, a1);
                    a2 = load(q, q2 + o + j).mul(s2).fma(v, a2);
                    a3 = load(q, q3 + o + j).mul(s3).fma(v, a3);
                }
            }
            SimdFloatKernels.storeLaneSums(a0, a1, a2, a3, out, r, stride);
        }

        static void decode(byte[] q, float[] d, int row, int cols, float[] dst, int dOff) {
            int blocks = cols / 32;
            int qBase = row * cols;
            int dBase = row * blocks;
            for (int b = 0; b < blocks; b++) {
                FloatVector s = FloatVector.broadcast(F, d[dBase + b]);
                int qo = qBase + b * 32;
                int o = dOff + b * 32;
                if (L == 8) { // written out: the JIT compiles this far better than the loop
                    load(q, qo).mul(s).intoArray(dst, o);
                    load(q, qo + 8).mul(s).intoArray(dst, o + 8);
                    load(q, qo + 16).mul(s).intoArray(dst, o + 16);
                    load(q, qo + 24).mul(s).intoArray(dst, o + 24);
                } else {
                    for (int j = 0; j < 32; j += L) {
                        load(q, qo + j).mul(s).intoArray(dst, o + j);
                    }
                }
            }
        }
    }
}
