package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** bfloat16 weights in a heap short[]; a bf16 is the top half of a float, so decoding is a shift. */
final class BF16Matrix extends Matrix {

    private final short[] data; // [rows, cols] bf16 bits

    private BF16Matrix(short[] data, int rows, int cols, String name) {
        super(rows, cols, name);
        this.data = data;
    }

    static BF16Matrix load(ByteBuffer b, int rows, int cols, String name) {
        short[] data = new short[rows * cols];
        b.asShortBuffer().get(data);
        return new BF16Matrix(data, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int base = row * cols;
        for (int c = 0; c < cols; c++) {
            dst[dstOffset + c] = Float.intBitsToFloat(data[base + c] << 16);
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        Simd.decode(data, row * cols, cols, dst, dstOffset);
    }

    /**
     * Up to twelve tokens in fused passes (4 + 4 + 4): at the shapes of SmolLM2-135M and Llama-3.2-1B, with the
     * weights streaming from memory (MatmulBenchmark -DcopiesMiB=192, two threads,
     * benchmarks.md, forty-fourth session), 1.11-1.87× the packed tiles' speed at six to twelve tokens
     * (converting a bfloat is a shift; the packed path's buffer of decoded rows costs more than it saves).
     */
    @Override
    int packedMinTokens() {
        return fusedPassesUpTo(12);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding (a shift) is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(data, r, stride, cols, x, out);
    }

    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        for (int t = 0; t < n; ) {
            int take = fewTokenPass(n - t, 4); // five tokens' 20 chains would leave too few registers
            int xOff = t * cols;
            int outOff = t * rows + r;
            switch (take) {
                case 4 -> Simd.fourRows4(data, r, stride, cols, x, xOff, out, outOff, rows);
                case 3 -> Simd.fourRows3(data, r, stride, cols, x, xOff, out, outOff, rows);
                case 2 -> Simd.fourRows2(data, r, stride, cols, x, xOff, out, outOff, rows);
                default -> throw new IllegalArgumentException("a pass of 2 to 4 tokens, got " + take);
            }
            t += take;
        }
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
        static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

        static FloatVector load(short[] w, int off) {
            return ((IntVector) ShortVector.fromArray(S, w, off).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token with decoding fused in: the arithmetic of
         * {@link SimdFloatKernels#tile4x1} over the decoded rows (vector FMA chains, lane sums, scalar tail).
         */
        static void fourRows(short[] w, int r, int stride, int cols, float[] x, float[] out) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v = FloatVector.fromArray(F, x, c);
                a0 = load(w, w0 + c).fma(v, a0);
                a1 = load(w, w1 + c).fma(v, a1);
                a2 = load(w, w2 + c).fma(v, a2);
                a3 = load(w, w3 + c).fma(v, a3);
            }
            float s0 = SimdFloatKernels.laneSum(a0);
            float s1 = SimdFloatKernels.laneSum(a1);
            float s2 = SimdFloatKernels.laneSum(a2);
            float s3 = SimdFloatKernels.laneSum(a3);
            for (; c < cols; c++) {
                float xv = x[c];
                s0 += Float.intBitsToFloat(w[w0 + c] << 16) * xv;
                s1 += Float.intBitsToFloat(w[w1 + c] << 16) * xv;
                s2 += Float.intBitsToFloat(w[w2 + c] << 16) * xv;
                s3 += Float.intBitsToFloat(w[w3 + c] << 16) * xv;
            }
            out[r] = s0;
            out[r + stride] = s1;
            out[r + 2 * stride] = s2;
            out[r + 3 * stride] = s3;
        }

        /** {@link #fourRows} for 2 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 2 FMA chains. */
        static void fourRows2(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            int x0 = xOff;
            int x1 = xOff + cols;
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + c);
                FloatVector u0 = ((IntVector) ShortVector.fromArray(S, w, w0 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a00 = u0.fma(v0, a00);
                a01 = u0.fma(v1, a01);
                FloatVector u1 = ((IntVector) ShortVector.fromArray(S, w, w1 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a10 = u1.fma(v0, a10);
                a11 = u1.fma(v1, a11);
                FloatVector u2 = ((IntVector) ShortVector.fromArray(S, w, w2 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a20 = u2.fma(v0, a20);
                a21 = u2.fma(v1, a21);
                FloatVector u3 = ((IntVector) ShortVector.fromArray(S, w, w3 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a30 = u3.fma(v0, a30);
                a31 = u3.fma(v1, a31);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s01 = SimdFloatKernels.laneSum(a01);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s11 = SimdFloatKernels.laneSum(a11);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s21 = SimdFloatKernels.laneSum(a21);
            float s30 = SimdFloatKernels.laneSum(a30);
            float s31 = SimdFloatKernels.laneSum(a31);
            for (; c < cols; c++) {
                float u0 = Float.intBitsToFloat(w[w0 + c] << 16);
                float u1 = Float.intBitsToFloat(w[w1 + c] << 16);
                float u2 = Float.intBitsToFloat(w[w2 + c] << 16);
                float u3 = Float.intBitsToFloat(w[w3 + c] << 16);
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
                float v1 = x[x1 + c];
                s01 += u0 * v1;
                s11 += u1 * v1;
                s21 += u2 * v1;
                s31 += u3 * v1;
            }
            out[outOff] = s00;
            out[outOff + rows] = s01;
            out[outOff + stride] = s10;
            out[outOff + rows + stride] = s11;
            out[outOff + 2 * stride] = s20;
            out[outOff + rows + 2 * stride] = s21;
            out[outOff + 3 * stride] = s30;
            out[outOff + rows + 3 * stride] = s31;
        }

        /** {@link #fourRows} for 3 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 3 FMA chains. */
        static void fourRows3(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
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
            int x0 = xOff;
            int x1 = xOff + cols;
            int x2 = xOff + 2 * cols;
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + c);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + c);
                FloatVector u0 = ((IntVector) ShortVector.fromArray(S, w, w0 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a00 = u0.fma(v0, a00);
                a01 = u0.fma(v1, a01);
                a02 = u0.fma(v2, a02);
                FloatVector u1 = ((IntVector) ShortVector.fromArray(S, w, w1 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a10 = u1.fma(v0, a10);
                a11 = u1.fma(v1, a11);
                a12 = u1.fma(v2, a12);
                FloatVector u2 = ((IntVector) ShortVector.fromArray(S, w, w2 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a20 = u2.fma(v0, a20);
                a21 = u2.fma(v1, a21);
                a22 = u2.fma(v2, a22);
                FloatVector u3 = ((IntVector) ShortVector.fromArray(S, w, w3 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a30 = u3.fma(v0, a30);
                a31 = u3.fma(v1, a31);
                a32 = u3.fma(v2, a32);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s01 = SimdFloatKernels.laneSum(a01);
            float s02 = SimdFloatKernels.laneSum(a02);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s11 = SimdFloatKernels.laneSum(a11);
            float s12 = SimdFloatKernels.laneSum(a12);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s21 = SimdFloatKernels.laneSum(a21);
            float s22 = SimdFloatKernels.laneSum(a22);
            float s30 = SimdFloatKernels.laneSum(a30);
            float s31 = SimdFloatKernels.laneSum(a31);
            float s32 = SimdFloatKernels.laneSum(a32);
            for (; c < cols; c++) {
                float u0 = Float.intBitsToFloat(w[w0 + c] << 16);
                float u1 = Float.intBitsToFloat(w[w1 + c] << 16);
                float u2 = Float.intBitsToFloat(w[w2 + c] << 16);
                float u3 = Float.intBitsToFloat(w[w3 + c] << 16);
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
                float v1 = x[x1 + c];
                s01 += u0 * v1;
                s11 += u1 * v1;
                s21 += u2 * v1;
                s31 += u3 * v1;
                float v2 = x[x2 + c];
                s02 += u0 * v2;
                s12 += u1 * v2;
                s22 += u2 * v2;
                s32 += u3 * v2;
            }
            out[outOff] = s00;
            out[outOff + rows] = s01;
            out[outOff + 2 * rows] = s02;
            out[outOff + stride] = s10;
            out[outOff + rows + stride] = s11;
            out[outOff + 2 * rows + stride] = s12;
            out[outOff + 2 * stride] = s20;
            out[outOff + rows + 2 * stride] = s21;
            out[outOff + 2 * rows + 2 * stride] = s22;
            out[outOff + 3 * stride] = s30;
            out[outOff + rows + 3 * stride] = s31;
            out[outOff + 2 * rows + 3 * stride] = s32;
        }

        /** {@link #fourRows} for 4 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 4 FMA chains. */
        static void fourRows4(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a03 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a13 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a23 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            FloatVector a33 = FloatVector.zero(F);
            int x0 = xOff;
            int x1 = xOff + cols;
            int x2 = xOff + 2 * cols;
            int x3 = xOff + 3 * cols;
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + c);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + c);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + c);
                FloatVector u0 = ((IntVector) ShortVector.fromArray(S, w, w0 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a00 = u0.fma(v0, a00);
                a01 = u0.fma(v1, a01);
                a02 = u0.fma(v2, a02);
                a03 = u0.fma(v3, a03);
                FloatVector u1 = ((IntVector) ShortVector.fromArray(S, w, w1 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a10 = u1.fma(v0, a10);
                a11 = u1.fma(v1, a11);
                a12 = u1.fma(v2, a12);
                a13 = u1.fma(v3, a13);
                FloatVector u2 = ((IntVector) ShortVector.fromArray(S, w, w2 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a20 = u2.fma(v0, a20);
                a21 = u2.fma(v1, a21);
                a22 = u2.fma(v2, a22);
                a23 = u2.fma(v3, a23);
                FloatVector u3 = ((IntVector) ShortVector.fromArray(S, w, w3 + c)
                        .convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a30 = u3.fma(v0, a30);
                a31 = u3.fma(v1, a31);
                a32 = u3.fma(v2, a32);
                a33 = u3.fma(v3, a33);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s01 = SimdFloatKernels.laneSum(a01);
            float s02 = SimdFloatKernels.laneSum(a02);
            float s03 = SimdFloatKernels.laneSum(a03);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s11 = SimdFloatKernels.laneSum(a11);
            float s12 = SimdFloatKernels.laneSum(a12);
            float s13 = SimdFloatKernels.laneSum(a13);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s21 = SimdFloatKernels.laneSum(a21);
            float s22 = SimdFloatKernels.laneSum(a22);
            float s23 = SimdFloatKernels.laneSum(a23);
            float s30 = SimdFloatKernels.laneSum(a30);
            float s31 = SimdFloatKernels.laneSum(a31);
            float s32 = SimdFloatKernels.laneSum(a32);
            float s33 = SimdFloatKernels.laneSum(a33);
            for (; c < cols; c++) {
                float u0 = Float.intBitsToFloat(w[w0 + c] << 16);
                float u1 = Float.intBitsToFloat(w[w1 + c] << 16);
                float u2 = Float.intBitsToFloat(w[w2 + c] << 16);
                float u3 = Float.intBitsToFloat(w[w3 + c] << 16);
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
                float v1 = x[x1 + c];
                s01 += u0 * v1;
                s11 += u1 * v1;
                s21 += u2 * v1;
                s31 += u3 * v1;
                float v2 = x[x2 + c];
                s02 += u0 * v2;
                s12 += u1 * v2;
                s22 += u2 * v2;
                s32 += u3 * v2;
                float v3 = x[x3 + c];
                s03 += u0 * v3;
                s13 += u1 * v3;
                s23 += u2 * v3;
                s33 += u3 * v3;
            }
            out[outOff] = s00;
            out[outOff + rows] = s01;
            out[outOff + 2 * rows] = s02;
            out[outOff + 3 * rows] = s03;
            out[outOff + stride] = s10;
            out[outOff + rows + stride] = s11;
            out[outOff + 2 * rows + stride] = s12;
            out[outOff + 3 * rows + stride] = s13;
            out[outOff + 2 * stride] = s20;
            out[outOff + rows + 2 * stride] = s21;
            out[outOff + 2 * rows + 2 * stride] = s22;
            out[outOff + 3 * rows + 2 * stride] = s23;
            out[outOff + 3 * stride] = s30;
            out[outOff + rows + 3 * stride] = s31;
            out[outOff + 2 * rows + 3 * stride] = s32;
            out[outOff + 3 * rows + 3 * stride] = s33;
        }

        static void decode(short[] w, int wOff, int n, float[] dst, int dOff) {
            int c = 0;
            for (int bound = n - L; c <= bound; c += L) {
                load(w, wOff + c).intoArray(dst, dOff + c);
            }
            for (; c < n; c++) {
                dst[dOff + c] = Float.intBitsToFloat(w[wOff + c] << 16);
            }
        }
    }
}
