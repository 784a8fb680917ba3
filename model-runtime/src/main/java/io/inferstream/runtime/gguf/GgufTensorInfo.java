package io.inferstream.runtime.gguf;

import java.util.Arrays;

/**
 * One entry of a GGUF tensor index.
 *
 * @param name   tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param type   element type
 * @param shape  ggml dimensions, {@code ne[0]} first: ne[0] is the innermost (contiguous) dimension, so a
 *               matrix of {@code rows × cols} stored row-major has shape {@code [cols, rows]}
 * @param offset byte offset of the data relative to the start of the file's data section
 */
public record GgufTensorInfo(String name, GgmlType type, long[] shape, long offset) {

    public GgufTensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** ne[i], or 1 beyond the stored dimensions (as ggml pads shapes to 4 dimensions). */
    public long ne(int i) {
        return i < shape.length ? shape[i] : 1;
    }

    public int dims() {
        return shape.length;
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteSize() {
        return type.bytesFor(elementCount());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && t.type == type
                && Arrays.equals(t.shape, shape) && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape) + " @" + offset;
    }
}
