package io.inferstream.runtime.safetensors;

import java.util.Arrays;

/**
 * One entry of a safetensors header.
 *
 * @param name  tensor name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype element type
 * @param shape dimensions, row-major (the last is contiguous): a Linear weight is {@code [out, in]};
 *              {@code []} is a scalar
 * @param begin absolute byte offset of the data in the file (the header's {@code data_offsets[0]} plus
 *              8 plus the header length)
 * @param end   absolute byte offset just past the data
 */
public record SafetensorsTensor(String name, SafetensorsDtype dtype, long[] shape, long begin, long end) {

    public SafetensorsTensor {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Product of the dimensions: 1 for a scalar, 0 when a dimension is 0. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** {@code end - begin}; equals {@code elementCount() * dtype.bytes()} in an opened file. */
    public long byteCount() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsTensor t && t.name.equals(name) && t.dtype == dtype
                && Arrays.equals(t.shape, shape) && t.begin == begin && t.end == end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + Arrays.hashCode(shape)) * 31 + Long.hashCode(begin);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
