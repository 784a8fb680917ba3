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

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding (a shift) is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(data, r, stride, cols, x, out);
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
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
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
