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

    /**
     * Up to eight tokens in fused passes (3 + 3 + 2): at the shapes of SmolLM2-135M and Llama-3.2-1B, with the
     * weights streaming from memory (MatmulBenchmark -DcopiesMiB=192, two threads,
     * benchmarks.md, forty-fourth session), 1.03-1.40× the packed tiles' speed at six and eight tokens;
     * at ten 0.94-1.20×, at twelve 0.73-0.93×. IQ4_NL and IQ4_XS share these kernels.
     */
    @Override
    int packedMinTokens() {
        return fusedPassesUpTo(8);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(quants, scales, r, stride, cols, x, out);
    }

    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        Simd.fourRowsTokens(quants, scales, r, stride, cols, rows, x, n, out);
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
            out[r] = SimdFloatKernels.laneSum(a0);
            out[r + stride] = SimdFloatKernels.laneSum(a1);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a2);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a3);
        }

        /**
         * {@link Matrix#fourRowsTokensSimd} for a byte and a scale per 32 (Q8_0's layout): 2 to 8 tokens in passes of
         * 3 or 2. Four at once (16 chains beside four scales and four x vectors) was no faster than 2 + 2, measured
         * at 1024 × 2048 and 2048 × 8192: each pass's cost is mostly the weights' widening.
         */
        static void fourRowsTokens(byte[] q, float[] d, int r, int stride, int cols, int rows, float[] x, int n,
                                   float[] out) {
            for (int t = 0; t < n; ) {
                int take = Matrix.fewTokenPass(n - t, 3);
                int xOff = t * cols;
                int outOff = t * rows + r;
                switch (take) {
                    case 3 -> fourRows3(q, d, r, stride, cols, x, xOff, out, outOff, rows);
                    case 2 -> fourRows2(q, d, r, stride, cols, x, xOff, out, outOff, rows);
                    default -> throw new IllegalArgumentException("a pass of 2 or 3 tokens, got " + take);
                }
                t += take;
            }
        }

        /** {@link #fourRows} for 2 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 2 FMA chains. */
        static void fourRows2(byte[] q, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out,
                               int outOff, int rows) {
            int blocks = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int d0 = r * blocks;
            int d1 = d0 + stride * blocks;
            int d2 = d1 + stride * blocks;
            int d3 = d2 + stride * blocks;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int o = b * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3);
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

        /** {@link #fourRows} for 3 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 3 FMA chains. */
        static void fourRows3(byte[] q, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out,
                               int outOff, int rows) {
            int blocks = cols / 32;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int d0 = r * blocks;
            int d1 = d0 + stride * blocks;
            int d2 = d1 + stride * blocks;
            int d3 = d2 + stride * blocks;
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
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int o = b * 32;
                for (int j = 0; j < 32; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + o + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, xOff + 2 * cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3);
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
