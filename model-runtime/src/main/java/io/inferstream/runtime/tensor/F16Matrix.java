package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * IEEE half weights, kept as half bits in a heap short[]. Java 17's Vector API has no half→float
 * conversion instruction, so the vector kernels convert with integer ops: the exponent and mantissa bits
 * shifted into float position and multiplied by 2^112 (exact, and right for subnormals too), infinities
 * and NaNs patched with a blend, the sign OR-ed back. The scalar path uses a 65536-entry table.
 */
final class F16Matrix extends Matrix {

    private static final float[] TABLE = new float[1 << 16];

    static {
        for (int i = 0; i < TABLE.length; i++) {
            TABLE[i] = Float16.toFloat((short) i);
        }
    }

    private final short[] data; // [rows, cols] half bits

    private F16Matrix(short[] data, int rows, int cols, String name) {
        super(rows, cols, name);
        this.data = data;
    }

    static F16Matrix load(ByteBuffer b, int rows, int cols, String name) {
        short[] data = new short[rows * cols];
        b.asShortBuffer().get(data);
        return new F16Matrix(data, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int base = row * cols;
        for (int c = 0; c < cols; c++) {
            dst[dstOffset + c] = TABLE[data[base + c] & 0xFFFF];
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
            IntVector h = (IntVector) ShortVector.fromArray(S, w, off).convertShape(VectorOperators.S2I, I, 0);
            IntVector magnitude = h.and(0x7FFF);
            IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
            IntVector bits = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
            bits = bits.blend(shifted.or(0x7F80_0000), magnitude.compare(VectorOperators.GE, 0x7C00));
            return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
        }

        static void decode(short[] w, int wOff, int n, float[] dst, int dOff) {
            int c = 0;
            for (int bound = n - L; c <= bound; c += L) {
                load(w, wOff + c).intoArray(dst, dOff + c);
            }
            for (; c < n; c++) {
                dst[dOff + c] = TABLE[w[wOff + c] & 0xFFFF];
            }
        }
    }
}
