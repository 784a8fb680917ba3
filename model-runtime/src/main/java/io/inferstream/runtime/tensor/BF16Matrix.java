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
