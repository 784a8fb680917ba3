package io.inferstream.runtime.model;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.tensor.VectorMath;

/**
 * Causal grouped-query attention of one token and one KV head (with the query heads that share it) over
 * its own sequence's keys and values, read from the paged KV store through the sequence's block table.
 * Each (token, KV head) is independent of every other, so the result of a token never depends on what
 * else is in the batch.
 *
 * <p>Within each block the keys and values of one KV head are contiguous (4 KiB each for 16 positions of a
 * 64-float head in F32), so a (token, KV head) streams whole pages the hardware prefetcher follows: at 32
 * sequences of ~160 positions the KV reads, not the arithmetic, are most of attention's time. Keys are
 * stored transposed (one row per dimension): a block's scores are then whole vectors of FMAs over the
 * head's dimensions, with no lane sums, and the query heads of a group meet each key vector while it is in
 * registers. Values are one row per position, the layout the weighted sum wants.
 */
final class PagedAttention {

    private final int headDim;
    private final int kvDim;
    private final int groupSize; // query heads per KV head
    private final float scale;   // 1 / sqrt(headDim)
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[][] {new float[256], null});

    PagedAttention(ModelConfig config) {
        if (config.headDim() % 2 != 0) {
            throw new IllegalArgumentException("head size " + config.headDim() + " is odd; RoPE and the attention kernels "
                    + "need an even head size");
        }
        this.headDim = config.headDim();
        this.kvDim = config.kvDim();
        this.groupSize = config.nHeads() / config.nKvHeads();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /** Stores one token's keys and values ({@code [kvDim]} each) into a cache slot of a layer. */
    void store(KvStore kv, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        int bs = kv.blockSize();
        int i = slot % bs;
        int blockBase = (slot / bs) * bs * kvDim;
        int keyBase = blockBase + i;                 // dimension d at keyBase + d * bs
        int valueBase = blockBase + i * headDim;     // dimension g * headDim + d at valueBase + g * bs * headDim + d
        int heads = kvDim / headDim;
        if (kv.precision() == KvStore.Precision.F32) {
            float[] keys = kv.keysF32(layer);
            float[] values = kv.valuesF32(layer);
            for (int d = 0; d < kvDim; d++) {
                keys[keyBase + d * bs] = k[kOff + d];
            }
            for (int g = 0; g < heads; g++) {
                System.arraycopy(v, vOff + g * headDim, values, valueBase + g * bs * headDim, headDim);
            }
        } else {
            short[] keys = kv.keysF16(layer);
            short[] values = kv.valuesF16(layer);
            for (int d = 0; d < kvDim; d++) {
                keys[keyBase + d * bs] = VectorMath.f32ToF16(k[kOff + d]);
            }
            for (int g = 0; g < heads; g++) {
                for (int d = 0; d < headDim; d++) {
                    values[valueBase + g * bs * headDim + d] = VectorMath.f32ToF16(v[vOff + g * headDim + d]);
                }
            }
        }
    }

    /**
     * For each query head h of KV head {@code kvHead}: out[outOff + h·headDim, + headDim) =
     * softmax(q_h·K / sqrt(headDim)) V over positions 0..position.
     *
     * @param q      the token's queries, all heads, from {@code qOff}
     * @param kvHead KV head index; its query heads are kvHead·groupSize ..
     * @param table  the sequence's physical blocks, in position order
     * @param out    the token's attention output, all heads, from {@code outOff}
     */
    void attend(KvStore kv, int layer, float[] q, int qOff, int kvHead, int position, int[] table,
                float[] out, int outOff) {
        int bs = kv.blockSize();
        int ctx = position + 1;
        int stride = ctx + VectorMath.lanes(); // per head: ctx scores + the padding keyScores may write
        float[][] s = scratch.get();
        if (s[0].length < groupSize * stride) {
            s[0] = new float[Math.max(groupSize * stride, 2 * s[0].length)];
        }
        float[] att = s[0]; // [groupSize][stride]
        int headOff = kvHead * headDim;
        int h0 = kvHead * groupSize;
        if (kv.precision() == KvStore.Precision.F32) {
            float[] keys = kv.keysF32(layer);
            for (int p = 0, b = 0; p < ctx; p += bs, b++) {
                scoreBlock(q, qOff, h0, keys, table[b] * bs * kvDim + headOff * bs, bs, Math.min(bs, ctx - p), att, stride, p);
            }
        } else {
            float[] row = halfScratch(s, headDim * bs); // one KV head's block, as floats
            short[] keys16 = kv.keysF16(layer);
            for (int p = 0, b = 0; p < ctx; p += bs, b++) {
                VectorMath.f16ToF32(keys16, table[b] * bs * kvDim + headOff * bs, row, 0, headDim * bs);
                scoreBlock(q, qOff, h0, row, 0, bs, Math.min(bs, ctx - p), att, stride, p);
            }
        }
        for (int g = 0; g < groupSize; g++) {
            VectorMath.softmax(att, g * stride, ctx);
            java.util.Arrays.fill(out, outOff + (h0 + g) * headDim, outOff + (h0 + g + 1) * headDim, 0f);
        }
        if (kv.precision() == KvStore.Precision.F32) {
            float[] values = kv.valuesF32(layer);
            for (int p = 0, b = 0; p < ctx; p += bs, b++) {
                weighBlock(att, stride, p, values, table[b] * bs * kvDim + headOff * bs, Math.min(bs, ctx - p), h0, out, outOff);
            }
        } else {
            float[] row = halfScratch(s, headDim * bs);
            short[] values16 = kv.valuesF16(layer);
            for (int p = 0, b = 0; p < ctx; p += bs, b++) {
                int count = Math.min(bs, ctx - p);
                VectorMath.f16ToF32(values16, table[b] * bs * kvDim + headOff * bs, row, 0, count * headDim);
                weighBlock(att, stride, p, row, 0, count, h0, out, outOff);
            }
        }
    }

    /**
     * Scores of one block's {@code count} positions (keys transposed at kT[kOff..], {@code bs} apart) for every
     * query head of the group, two heads per kernel call: att[g·stride + p + i] for i &lt; count.
     */
    private void scoreBlock(float[] q, int qOff, int h0, float[] kT, int kOff, int bs, int count, float[] att,
                            int stride, int p) {
        for (int g = 0; g < groupSize; g += 2) {
            boolean two = g + 1 < groupSize;
            VectorMath.keyScores(q, qOff + (h0 + g) * headDim, qOff + (h0 + g + (two ? 1 : 0)) * headDim, two,
                    kT, kOff, bs, count, headDim, scale, att, g * stride + p, (g + 1) * stride + p);
        }
    }

    /** out_h += Σ_i att[g·stride + p + i] · v_i over one block's {@code count} value rows (at v[vOff..]), each head. */
    private void weighBlock(float[] att, int stride, int p, float[] v, int vOff, int count, int h0, float[] out,
                            int outOff) {
        for (int g = 0; g < groupSize; g++) {
            VectorMath.axpyRows(att, g * stride + p, v, vOff, headDim, count, out, outOff + (h0 + g) * headDim, headDim);
        }
    }

    private static float[] halfScratch(float[][] s, int size) {
        if (s[1] == null || s[1].length < size) {
            s[1] = new float[size];
        }
        return s[1];
    }
}
