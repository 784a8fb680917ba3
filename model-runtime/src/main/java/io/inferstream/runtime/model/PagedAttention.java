package io.inferstream.runtime.model;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.tensor.VectorMath;

/**
 * Causal grouped-query attention of one token and one query head over its own sequence's keys and
 * values, read from the paged KV store through the sequence's block table. Each (token, head) is
 * independent of every other, so the result of a token never depends on what else is in the batch.
 */
final class PagedAttention {

    private final int headDim;
    private final int kvDim;
    private final int groupSize; // query heads per KV head
    private final float scale;   // 1 / sqrt(headDim)
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[][] {new float[256], null});

    PagedAttention(ModelConfig config) {
        this.headDim = config.headDim();
        this.kvDim = config.kvDim();
        this.groupSize = config.nHeads() / config.nKvHeads();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /** Stores one token's keys and values ({@code [kvDim]} each) into a cache slot of a layer. */
    void store(KvStore kv, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        int base = slot * kvDim;
        if (kv.precision() == KvStore.Precision.F32) {
            System.arraycopy(k, kOff, kv.keysF32(layer), base, kvDim);
            System.arraycopy(v, vOff, kv.valuesF32(layer), base, kvDim);
        } else {
            short[] keys = kv.keysF16(layer);
            short[] values = kv.valuesF16(layer);
            for (int i = 0; i < kvDim; i++) {
                keys[base + i] = VectorMath.f32ToF16(k[kOff + i]);
                values[base + i] = VectorMath.f32ToF16(v[vOff + i]);
            }
        }
    }

    /**
     * out[outOff, outOff + headDim) = softmax(q·K / sqrt(headDim)) V over positions 0..position.
     *
     * @param q     query of the head at {@code qOff}
     * @param head  query head index
     * @param table the sequence's physical blocks, in position order
     */
    void attend(KvStore kv, int layer, float[] q, int qOff, int head, int position, int[] table,
                float[] out, int outOff) {
        float[][] s = scratch.get();
        if (s[0].length < position + 1) {
            s[0] = new float[Math.max(position + 1, 2 * s[0].length)];
        }
        float[] att = s[0]; // [position + 1]
        int bs = kv.blockSize();
        int headOff = (head / groupSize) * headDim;
        boolean f32 = kv.precision() == KvStore.Precision.F32;
        float[] row = f32 ? null : (s[1] != null && s[1].length >= headDim ? s[1] : (s[1] = new float[headDim]));
        if (f32) {
            // One KV block (bs consecutive slots, kvDim apart) at a time: no per-position block lookup.
            float[] keys = kv.keysF32(layer);
            for (int p = 0, b = 0; p <= position; p += bs, b++) {
                int count = Math.min(bs, position + 1 - p);
                VectorMath.dotRows(q, qOff, keys, table[b] * bs * kvDim + headOff, kvDim, count, headDim, scale, att, p);
            }
        } else {
            short[] keys16 = kv.keysF16(layer);
            for (int p = 0; p <= position; p++) {
                int base = (table[p / bs] * bs + p % bs) * kvDim + headOff;
                for (int i = 0; i < headDim; i++) {
                    row[i] = VectorMath.f16ToF32(keys16[base + i]);
                }
                att[p] = VectorMath.dot(q, qOff, row, 0, headDim) * scale;
            }
        }
        VectorMath.softmax(att, 0, position + 1);
        java.util.Arrays.fill(out, outOff, outOff + headDim, 0f);
        if (f32) {
            float[] values = kv.valuesF32(layer);
            for (int p = 0, b = 0; p <= position; p += bs, b++) {
                int count = Math.min(bs, position + 1 - p);
                VectorMath.axpyRows(att, p, values, table[b] * bs * kvDim + headOff, kvDim, count, out, outOff, headDim);
            }
        } else {
            short[] values16 = kv.valuesF16(layer);
            for (int p = 0; p <= position; p++) {
                int base = (table[p / bs] * bs + p % bs) * kvDim + headOff;
                for (int i = 0; i < headDim; i++) {
                    row[i] = VectorMath.f16ToF32(values16[base + i]);
                }
                VectorMath.axpy(att[p], row, 0, out, outOff, headDim);
            }
        }
    }
}
