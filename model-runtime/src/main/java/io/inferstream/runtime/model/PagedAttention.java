package io.inferstream.runtime.model;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.tensor.VectorMath;

/**
 * Causal grouped-query attention of a run of tokens (one token when decoding, up to a few of a prefill chunk)
 * and one KV head (with the query heads that share it) over their own sequence's keys and values, read from the
 * paged KV store through the sequence's block table. A token's result is computed with the same kernel calls in
 * the same order whatever run it is in, so it never depends on what else is in the batch.
 *
 * <p>Within each block the keys and values of one KV head are contiguous (4 KiB each for 16 positions of a
 * 64-float head in F32), so a (token, KV head) streams whole pages the hardware prefetcher follows: at 32
 * sequences of ~160 positions the KV reads, not the arithmetic, are most of attention's time. Keys are
 * stored transposed (one row per dimension): a block's scores are then whole vectors of FMAs over the
 * head's dimensions, with no lane sums, and the query heads of a group meet each key vector while it is in
 * registers (three at a time when the group size is a multiple of three, as SmolLM2's is). Values are one row
 * per position, the layout the weighted sum wants. Blocks go two at a time: a block is its own page, read from
 * cold, and one kernel call over two of them keeps both pages' loads in flight (16 sequences of SmolLM2 at 1024
 * positions, 2 threads: attention 51.9 → 41.9 ms a decode step; each score and sum is the same bits as one block at
 * a time). The tokens of a run meet each block while it is in L1, so a
 * long prompt reads its KV cache once per run rather than once per token (SmolLM2 shape, one 2048-token prompt
 * in 512-token chunks: 6.0 s instead of 7.25 s, attention ~2.1 s instead of ~3.3 s).
 */
final class PagedAttention {

    private final int headDim;
    private final int kvDim;
    private final int groupSize; // query heads per KV head
    private final float scale;   // on q·k: 1 / sqrt(headDim) unless the model says otherwise
    private final float softcap; // Gemma 2: scores capped to (−cap, cap) by cap·tanh(score / cap); 0 for none
    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[][] {new float[256], null});

    PagedAttention(ModelConfig config) {
        if (config.headDim() % 2 != 0) {
            throw new IllegalArgumentException("head size " + config.headDim() + " is odd; RoPE and the attention kernels "
                    + "need an even head size");
        }
        this.headDim = config.headDim();
        this.kvDim = config.kvDim();
        this.groupSize = config.nHeads() / config.nKvHeads();
        this.scale = config.block().attentionScale(headDim);
        this.softcap = config.block().attentionSoftcap();
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
     * For each query head h of KV head {@code kvHead} and each of {@code m} tokens of one sequence at consecutive
     * positions p0 .. p0 + m − 1 (batch rows t0 .. t0 + m − 1, queries and outputs {@code qDim} apart):
     * out[(t0 + j)·qDim + h·headDim, + headDim) = softmax(q_h·K / sqrt(headDim)) V over positions 0 .. p0 + j, or over
     * the last {@code window} of them in a sliding-window layer (whose blocks before that are not read at all).
     *
     * <p>Only the positions of segment {@code segment} ({@link AttentionSegments}) are read. A token whose visible
     * positions all lie in it gets its output as above; a token that sees other segments too gets this segment's
     * weighted sum and softmax statistics in {@code parts}, which {@link AttentionSegments#merge} combines; a token
     * that sees nothing of this segment is left alone.
     *
     * <p>Blocks outermost, tokens inside: a KV block is read from memory (and, in F16, converted) once for all m
     * tokens of a prefill chunk instead of once per token. Each token's scores and weighted sums are the same
     * kernel calls, block by block in the same order, as for that token alone (m = 1, a decode step), so its
     * output is bitwise the same in any chunk.
     *
     * @param q      queries of the batch [n, qDim]
     * @param kvHead KV head index; its query heads are kvHead·groupSize ..
     * @param table  the sequence's physical blocks, in position order
     * @param window positions a token sees, its own included; 0 for all of them
     * @param out    attention output of the batch [n, qDim]
     */
    void attend(KvStore kv, int layer, float[] q, int t0, int m, int p0, int kvHead, int[] table, int window,
                int segment, AttentionSegments parts, float[] out) {
        int bs = kv.blockSize();
        int qDim = groupSize * kvDim;
        int lo = segment * AttentionSegments.SPAN;
        int hi = Math.min(lo + AttentionSegments.SPAN, p0 + m);
        int span = hi - lo;
        int stride = span + VectorMath.lanes(); // per (token, head): its scores + the padding keyScores may write
        int perToken = groupSize * stride;
        float[][] s = scratch.get();
        if (s[0].length < m * perToken) {
            s[0] = new float[Math.max(m * perToken, 2 * s[0].length)];
        }
        float[] att = s[0]; // [m][groupSize][stride], position p at p − lo
        int headOff = kvHead * headDim;
        int h0 = kvHead * groupSize;
        boolean f32 = kv.precision() == KvStore.Precision.F32;
        float[] keys = f32 ? kv.keysF32(layer) : halfScratch(s, 2 * headDim * bs); // F16: one KV head's two blocks, as floats
        // A token sees positions [first(p), p]; of this segment, [from(j), to(j)). Its softmax and weighted sum cover
        // exactly those, from its first block on, so its result is the same whichever run it is in.
        int b0 = Math.max(AttentionSegments.first(p0, window), lo) / bs;
        // Blocks two at a time where the segment has two more: a token that sees both scores them in one kernel
        // call (the same bits as two), so both pages stream in together.
        for (int p = b0 * bs, b = b0; p < hi; ) {
            boolean pair = p + bs < hi;
            int kOff = table[b] * bs * kvDim + headOff * bs;
            int kOff2 = pair ? table[b + 1] * bs * kvDim + headOff * bs : 0;
            if (!f32) {
                VectorMath.f16ToF32(kv.keysF16(layer), kOff, keys, 0, headDim * bs);
                kOff = 0;
                if (pair) {
                    VectorMath.f16ToF32(kv.keysF16(layer), kOff2, keys, headDim * bs, headDim * bs);
                    kOff2 = headDim * bs;
                }
            }
            for (int j = 0; j < m; j++) {
                int from = Math.max(from(p0 + j, window, lo) - p, 0);
                int count = Math.min(bs, to(p0 + j, hi) - p);
                int from2 = Math.max(from(p0 + j, window, lo) - p - bs, 0);
                int count2 = pair ? Math.min(bs, to(p0 + j, hi) - p - bs) : 0;
                // from the block's first position, not the token's: the kernels read whole vectors of a block's row
                // from its start (a score is the same bits in any lane, and the ones before the window go unused)
                if (count > from && count2 > from2) {
                    scorePair(q, (t0 + j) * qDim, h0, keys, kOff, kOff2, bs, count, count2, att, j * perToken, stride,
                            p - lo);
                } else if (count > from) {
                    scoreBlock(q, (t0 + j) * qDim, h0, keys, kOff, bs, count, att, j * perToken, stride, p - lo);
                } else if (count2 > from2) {
                    scoreBlock(q, (t0 + j) * qDim, h0, keys, kOff2, bs, count2, att, j * perToken, stride, p + bs - lo);
                }
            }
            p += pair ? 2 * bs : bs;
            b += pair ? 2 : 1;
        }
        float[] stats = parts.stats();
        float[] sums = parts.sums();
        for (int j = 0; j < m; j++) {
            int from = from(p0 + j, window, lo);
            int to = to(p0 + j, hi);
            if (to <= from) {
                continue;
            }
            boolean direct = parts.direct(t0 + j);
            for (int g = 0; g < groupSize; g++) {
                int off = j * perToken + g * stride + from - lo;
                if (softcap > 0) {
                    cap(att, off, to - from);
                }
                VectorMath.softmax(att, off, to - from, direct ? null : stats, direct ? 0 : 2 * parts.slot(t0 + j, h0 + g, segment));
                int o = direct ? (t0 + j) * qDim + (h0 + g) * headDim : parts.slot(t0 + j, h0 + g, segment) * headDim;
                java.util.Arrays.fill(direct ? out : sums, o, o + headDim, 0f);
            }
        }
        float[] values = f32 ? kv.valuesF32(layer) : halfScratch(s, 2 * headDim * bs);
        for (int p = b0 * bs, b = b0; p < hi; ) {
            boolean pair = p + bs < hi;
            int vOff = table[b] * bs * kvDim + headOff * bs;
            int vOff2 = pair ? table[b + 1] * bs * kvDim + headOff * bs : 0;
            if (!f32) {
                VectorMath.f16ToF32(kv.valuesF16(layer), vOff, values, 0, Math.min(bs, hi - p) * headDim);
                vOff = 0;
                if (pair) {
                    VectorMath.f16ToF32(kv.valuesF16(layer), vOff2, values, headDim * bs,
                            Math.min(bs, hi - p - bs) * headDim);
                    vOff2 = headDim * bs;
                }
            }
            for (int j = 0; j < m; j++) {
                int from = Math.max(from(p0 + j, window, lo) - p, 0);
                int count = Math.min(bs, to(p0 + j, hi) - p);
                int from2 = Math.max(from(p0 + j, window, lo) - p - bs, 0);
                int count2 = pair ? Math.min(bs, to(p0 + j, hi) - p - bs) : 0;
                // a partial's heads are consecutive slots, headDim apart as in a row of out
                boolean direct = parts.direct(t0 + j);
                float[] dst = direct ? out : sums;
                int dstOff = direct ? (t0 + j) * qDim : parts.slot(t0 + j, 0, segment) * headDim;
                if (count > from && count2 > from2) {
                    // seeing both, the token sees all of the second block's start (from2 = 0) and its weights follow
                    // the first block's
                    weighPair(att, j * perToken, stride, p - lo + from, values, vOff + from * headDim, count - from,
                            vOff2, count2, h0, dst, dstOff);
                } else if (count > from) {
                    weighBlock(att, j * perToken, stride, p - lo + from, values, vOff + from * headDim, count - from,
                            h0, dst, dstOff);
                } else if (count2 > from2) {
                    weighBlock(att, j * perToken, stride, p + bs - lo + from2, values, vOff2 + from2 * headDim,
                            count2 - from2, h0, dst, dstOff);
                }
            }
            p += pair ? 2 * bs : bs;
            b += pair ? 2 : 1;
        }
    }

    /** The first position of segment [lo, ..) a query at {@code position} sees. */
    private static int from(int position, int window, int lo) {
        return Math.max(AttentionSegments.first(position, window), lo);
    }

    /** The position after the last of a segment ending at {@code hi} a query at {@code position} sees. */
    private static int to(int position, int hi) {
        return Math.min(position + 1, hi);
    }

    /** Gemma 2's soft cap on n scores: cap·tanh(score / cap). */
    private void cap(float[] att, int off, int n) {
        for (int i = off; i < off + n; i++) {
            att[i] = softcap * (float) Math.tanh(att[i] / softcap);
        }
    }

    /**
     * Scores of one block's {@code count} positions (keys transposed at kT[kOff..], {@code bs} apart) for every
     * query head of the group, three (when the group size is a multiple of three) or two heads per kernel call:
     * att[attOff + g·stride + p + i] for i &lt; count.
     */
    private void scoreBlock(float[] q, int qOff, int h0, float[] kT, int kOff, int bs, int count, float[] att,
                            int attOff, int stride, int p) {
        if (groupSize % 3 == 0) { // three heads per key load (SmolLM2, Qwen2.5-1.5B)
            for (int g = 0; g < groupSize; g += 3) {
                int qa = qOff + (h0 + g) * headDim;
                VectorMath.keyScores3(q, qa, qa + headDim, qa + 2 * headDim, kT, kOff, bs, count, headDim, scale,
                        att, attOff + g * stride + p, attOff + (g + 1) * stride + p, attOff + (g + 2) * stride + p);
            }
            return;
        }
        for (int g = 0; g < groupSize; g += 2) {
            boolean two = g + 1 < groupSize;
            VectorMath.keyScores(q, qOff + (h0 + g) * headDim, qOff + (h0 + g + (two ? 1 : 0)) * headDim, two,
                    kT, kOff, bs, count, headDim, scale, att, attOff + g * stride + p, attOff + (g + 1) * stride + p);
        }
    }

    /** {@link #scoreBlock} for two blocks (keys at kT[kOff..] and kT[kOff2..], positions p.. and p + bs..). */
    private void scorePair(float[] q, int qOff, int h0, float[] kT, int kOff, int kOff2, int bs, int count, int count2,
                           float[] att, int attOff, int stride, int p) {
        if (groupSize % 3 == 0) {
            for (int g = 0; g < groupSize; g += 3) {
                int qa = qOff + (h0 + g) * headDim;
                VectorMath.keyScores3Pair(q, qa, qa + headDim, qa + 2 * headDim, kT, kOff, kOff2, bs, count, count2,
                        headDim, scale, att, attOff + g * stride + p, attOff + (g + 1) * stride + p,
                        attOff + (g + 2) * stride + p);
            }
            return;
        }
        for (int g = 0; g < groupSize; g += 2) {
            boolean two = g + 1 < groupSize;
            VectorMath.keyScoresPair(q, qOff + (h0 + g) * headDim, qOff + (h0 + g + (two ? 1 : 0)) * headDim, two,
                    kT, kOff, kOff2, bs, count, count2, headDim, scale, att, attOff + g * stride + p,
                    attOff + (g + 1) * stride + p);
        }
    }

    /**
     * out_h += Σ_i att[attOff + g·stride + p + i] · v_i over one block's {@code count} value rows (at v[vOff..]), each
     * head of the group (three per kernel call when the group size is a multiple of three).
     */
    private void weighBlock(float[] att, int attOff, int stride, int p, float[] v, int vOff, int count, int h0,
                            float[] out, int outOff) {
        if (groupSize % 3 == 0) {
            for (int g = 0; g < groupSize; g += 3) {
                int o = outOff + (h0 + g) * headDim;
                VectorMath.axpyRows3(att, attOff + g * stride + p, attOff + (g + 1) * stride + p,
                        attOff + (g + 2) * stride + p, v, vOff, headDim, count, out, o, o + headDim, o + 2 * headDim, headDim);
            }
            return;
        }
        for (int g = 0; g < groupSize; g++) {
            VectorMath.axpyRows(att, attOff + g * stride + p, v, vOff, headDim, count, out, outOff + (h0 + g) * headDim, headDim);
        }
    }

    /**
     * {@link #weighBlock} over two blocks: countA value rows at v[vA..], then countB at v[vB..], their weights
     * consecutive from att[attOff + g·stride + p]. Three heads share one kernel call where they can.
     */
    private void weighPair(float[] att, int attOff, int stride, int p, float[] v, int vA, int countA, int vB, int countB,
                           int h0, float[] out, int outOff) {
        if (groupSize % 3 == 0) {
            for (int g = 0; g < groupSize; g += 3) {
                int o = outOff + (h0 + g) * headDim;
                VectorMath.axpyRows3Pair(att, attOff + g * stride + p, attOff + (g + 1) * stride + p,
                        attOff + (g + 2) * stride + p, v, vA, countA, vB, countB, headDim, out, o, o + headDim,
                        o + 2 * headDim, headDim);
            }
            return;
        }
        weighBlock(att, attOff, stride, p, v, vA, countA, h0, out, outOff);
        weighBlock(att, attOff, stride, p + countA, v, vB, countB, h0, out, outOff);
    }

    private static float[] halfScratch(float[][] s, int size) {
        if (s[1] == null || s[1].length < size) {
            s[1] = new float[size];
        }
        return s[1];
    }
}
