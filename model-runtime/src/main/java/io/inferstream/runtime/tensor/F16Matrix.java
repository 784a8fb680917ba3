package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;

/**
 * IEEE half weights, kept as half bits in a heap short[]. Java 17's Vector API has no half→float
 * conversion, so rows are decoded through a 65536-entry table and then use the float kernels.
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
    float dotSimd(int row, float[] x, int xOffset) {
        float[] w = scratch(cols);
        dequantizeRow(row, w, 0);
        return SimdFloatKernels.dot(w, 0, x, xOffset, cols);
    }
}
