package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;

/**
 * A quantized matrix as this runtime holds it after load, for kernels that read it as it is (the GPU backend):
 * <ul>
 * <li>Q8_0: {@code quants} holds one signed byte per value, [rows, cols]; per 32 values a float {@code scales} (d):
 *     w = scale · q. {@code mins} is null.</li>
 * <li>Q4_K: {@code quants} holds two 4-bit values per byte, [rows, cols / 2], in ggml's order (each 64-value
 *     chunk is 32 bytes, low nibbles values 0..31, high nibbles 32..63); per 32 values a float {@code scales}
 *     (d·sc) and {@code mins} (dmin·m): w = scale · q − min, rounded after the product and after the difference.</li>
 * <li>Q6_K: {@code quants} holds one signed byte per value (q − 32), [rows, cols]; per 16 values a float
 *     {@code scales} (d·scales[k]): w = scale · q. {@code mins} is null.</li>
 * </ul>
 * The arrays are the matrix's own (not copies): read them, never write them.
 *
 * @param group values per scale (32 for Q8_0 and Q4_K, 16 for Q6_K)
 */
public record QuantPlanes(GgmlType type, byte[] quants, float[] scales, float[] mins, int group) {
}
