package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;

/** F32 weights, copied from the file into a heap float[] (F32 models are small: tests, tiny models). */
final class F32Matrix extends Matrix {

    private final float[] data; // [rows, cols]

    F32Matrix(float[] data, int rows, int cols, String name) {
        super(rows, cols, name);
        this.data = data;
    }

    static F32Matrix load(ByteBuffer b, int rows, int cols, String name) {
        float[] data = new float[rows * cols];
        b.asFloatBuffer().get(data);
        return new F32Matrix(data, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        System.arraycopy(data, row * cols, dst, dstOffset, cols);
    }

    @Override
    float dotScalar(int row, float[] x, int xOffset) {
        return VectorMath.dotScalar(data, row * cols, x, xOffset, cols);
    }

    @Override
    float[] floatRows() {
        return data;
    }
}
