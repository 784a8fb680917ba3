package io.inferstream.runtime.model;

/**
 * Long contexts split into segments of {@link #SPAN} positions that attend in parallel (flash-decoding on the CPU).
 * One sequence decoding has one task per KV head otherwise: a model with fewer KV heads than threads (SmolLM2's 3,
 * Gemma 3's 1) leaves threads idle while its longest head reads thousands of keys. A token whose visible positions lie in
 * one segment gets its output straight from it, so contexts up to {@link #SPAN} positions compute exactly as
 * before; a longer one gets each segment's softmax-weighted sum with the segment's max score and exp-sum, and
 * {@link #merge} combines them, in segment order. Segments are fixed ranges of absolute positions, so a token's
 * result is the same bits in a decode step, a prefill chunk or any batch.
 */
final class AttentionSegments {

    /** Positions per segment: long enough that its keys outweigh a merge, short enough to balance two to a few threads. */
    static final int SPAN = 1024;

    private final int nHeads;
    private final int headDim;
    private int[] slot0 = new int[0]; // [n] first partial slot of token t, or -1 when one segment holds its context
    private int[] firstSegment = new int[0]; // [n]
    private int[] multi = new int[0]; // tokens that span several segments
    private int multiCount;
    private float[] sums = new float[0];   // [slots][headDim] each segment's normalized weighted sum of values
    private float[] stats = new float[0];  // [slots][2] the segment's max score and Σ exp(score − max)

    AttentionSegments(ModelConfig config) {
        this.nHeads = config.nHeads();
        this.headDim = config.headDim();
    }

    /** The segment holding {@code position}. */
    static int of(int position) {
        return position / SPAN;
    }

    /** The first position a query at {@code position} sees ({@code window} 0: all). */
    static int first(int position, int window) {
        return window > 0 ? Math.max(0, position - window + 1) : 0;
    }

    /** Assigns partial slots to the tokens of a step whose context (under {@code window}) spans several segments. */
    void plan(int n, int[] positions, int window) {
        if (slot0.length < n) {
            slot0 = new int[n];
            firstSegment = new int[n];
            multi = new int[n];
        }
        int slots = 0;
        multiCount = 0;
        for (int t = 0; t < n; t++) {
            int lo = of(first(positions[t], window));
            int hi = of(positions[t]);
            firstSegment[t] = lo;
            if (lo == hi) {
                slot0[t] = -1;
            } else {
                slot0[t] = slots;
                slots += (hi - lo + 1) * nHeads;
                multi[multiCount++] = t;
            }
        }
        if (sums.length < slots * headDim) {
            sums = new float[Math.max(slots * headDim, 2 * sums.length)];
            stats = new float[Math.max(2 * slots, 2 * stats.length)];
        }
    }

    /** Whether token {@code t}'s output comes straight from its one segment. */
    boolean direct(int t) {
        return slot0[t] < 0;
    }

    /** Token {@code t}'s partial slot for query head {@code h} in segment {@code segment}. */
    int slot(int t, int h, int segment) {
        return slot0[t] + (segment - firstSegment[t]) * nHeads + h;
    }

    float[] sums() {
        return sums;
    }

    float[] stats() {
        return stats;
    }

    /** Tokens that span several segments: their outputs come from {@link #merge}. */
    int multiCount() {
        return multiCount;
    }

    int multi(int i) {
        return multi[i];
    }

    /**
     * out[t·qDim + h·headDim ..] for every query head of token {@code t}: its segments' weighted sums, each times its
     * share exp(max_k − max)·sum_k / Σ_j exp(max_j − max)·sum_j of the whole softmax, added in segment order.
     */
    void merge(int t, int position, float[] out, int qDim) {
        int segments = of(position) - firstSegment[t] + 1;
        for (int h = 0; h < nHeads; h++) {
            int s0 = slot(t, h, firstSegment[t]);
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < segments; k++) {
                max = Math.max(max, stats[2 * (s0 + k * nHeads)]);
            }
            double total = 0;
            for (int k = 0; k < segments; k++) {
                int s = s0 + k * nHeads;
                total += Math.exp(stats[2 * s] - max) * stats[2 * s + 1];
            }
            int o = t * qDim + h * headDim;
            java.util.Arrays.fill(out, o, o + headDim, 0f);
            for (int k = 0; k < segments; k++) {
                int s = s0 + k * nHeads;
                float share = (float) (Math.exp(stats[2 * s] - max) * stats[2 * s + 1] / total);
                io.inferstream.runtime.tensor.VectorMath.axpy(share, sums, s * headDim, out, o, headDim);
            }
        }
    }
}
