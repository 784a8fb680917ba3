package io.inferstream.runtime.sampling;

import io.inferstream.runtime.tensor.VectorMath;

import java.util.Arrays;

/**
 * Chooses the next token of one sequence from its logits. One instance per sequence: it owns that
 * sequence's random generator (SplitMix64 seeded by {@link SamplingParams#seed()}), so the choice
 * never depends on what else was in the batch and is the same on every JVM.
 *
 * <p>The order of operations is llama.cpp's default chain: repetition penalty → top-k → top-p →
 * min-p (all on the temperature-1 distribution, so the candidate set does not depend on the
 * temperature) → temperature → draw. Temperature 0 is greedy: argmax, lowest id on ties.
 *
 * <p>Not thread-safe; a sequence is sampled by one thread at a time.
 */
public final class Sampler {

    private final SamplingParams params;
    private long rngState;

    private float[] work = new float[0];          // [vocab] penalized logits
    private long[] order = new long[0];           // [vocab] sort keys: (descending logit, ascending id)
    private float[] candidates = new float[0];    // [n] the kept candidates' logits, in candidate order
    private float[] weights = new float[0];       // [n] their unnormalized probabilities
    private int[] penalizedStamp = new int[0];    // [vocab] call number that last penalized the token
    private int stamp;
    private float lastLogprob = Float.NaN;
    private float[] greedyLogits;                 // the last greedy choice's logits row, until its log-prob is asked for
    private int greedyOffset;
    private int greedyVocab;
    private int greedyBest;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.rngState = params.seed();
    }

    public SamplingParams params() {
        return params;
    }

    /**
     * @param logits        row-major logits; this call reads {@code logits[offset, offset + vocabSize)} and never writes them
     * @param history       tokens already in the sequence (prompt and output) for the repetition penalty
     * @param historyLength how many entries of {@code history} are valid
     * @return the chosen token id
     */
    public int sample(float[] logits, int offset, int vocabSize, int[] history, int historyLength) {
        greedyLogits = null;
        if (params.isGreedy()) {
            // No copy without a penalty to apply; the log-prob (a pass of exp over the vocabulary) only when asked.
            boolean plain = params.repetitionPenalty() == 1f || history == null;
            float[] x = plain ? logits : prepare(logits, offset, vocabSize, history, historyLength);
            int off = plain ? offset : 0;
            greedyBest = argmax(x, off, vocabSize);
            greedyLogits = x;
            greedyOffset = off;
            greedyVocab = vocabSize;
            return greedyBest;
        }
        return sampleTruncated(prepare(logits, offset, vocabSize, history, historyLength), vocabSize);
    }

    /**
     * Log-probability of the last chosen token under the distribution it was drawn from (raw for greedy). For a
     * greedy choice it is computed here from the logits passed to {@link #sample}: ask before they are reused.
     */
    public float lastLogprob() {
        if (greedyLogits != null) {
            lastLogprob = (float) (greedyLogits[greedyOffset + greedyBest]
                    - VectorMath.logSumExp(greedyLogits, greedyOffset, greedyVocab));
            greedyLogits = null;
        }
        return lastLogprob;
    }

    /** Copies the logits and applies the CTRL repetition penalty once per distinct token of the history. */
    private float[] prepare(float[] logits, int offset, int vocabSize, int[] history, int historyLength) {
        if (work.length < vocabSize) {
            work = new float[vocabSize];
            order = new long[vocabSize];
            penalizedStamp = new int[vocabSize];
        }
        System.arraycopy(logits, offset, work, 0, vocabSize);
        float penalty = params.repetitionPenalty();
        if (penalty != 1f && history != null) {
            stamp++;
            for (int i = 0; i < historyLength; i++) {
                int id = history[i];
                if (id < 0 || id >= vocabSize || penalizedStamp[id] == stamp) {
                    continue;
                }
                penalizedStamp[id] = stamp;
                // CTRL (Keskar et al. 2019) as llama.cpp applies it: always lower the token's probability.
                work[id] = work[id] > 0 ? work[id] / penalty : work[id] * penalty;
            }
        }
        return work;
    }

    private int sampleTruncated(float[] x, int vocabSize) {
        int n = truncate(x, vocabSize);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[id(i)]);
        }
        // Temperature, then draw from the renormalized distribution over the kept candidates.
        double invT = 1.0 / params.temperature();
        double sum = weigh(x, n, max, (float) invT);
        double u = nextDouble() * sum;
        double cdf = 0;
        int chosen = id(n - 1);
        for (int i = 0; i < n; i++) {
            cdf += weights[i];
            if (u < cdf) {
                chosen = id(i);
                break;
            }
        }
        lastLogprob = (float) ((x[chosen] - max) * invT - Math.log(sum));
        return chosen;
    }

    /**
     * Top-k, top-p and min-p on the temperature-1 distribution of {@code x}.
     *
     * @return n, the number of candidates kept: their ids are the low 32 bits of {@code order[0..n)}
     */
    private int truncate(float[] x, int vocabSize) {
        int topK = params.topK();
        float topP = params.topP();
        int n = vocabSize;
        if (topK > 0 && topK < vocabSize) {
            n = selectTopK(x, vocabSize, topK);
            if (topP < 1f) {
                n = nucleus(x, n, topP);
            }
        } else if (topP < 1f) {
            for (int i = 0; i < vocabSize; i++) {
                order[i] = sortKey(x[i], i);
            }
            Arrays.sort(order, 0, vocabSize);
            n = nucleus(x, n, topP);
        } else {
            for (int i = 0; i < vocabSize; i++) {
                order[i] = i;
            }
        }
        if (params.minP() > 0f) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, x[id(i)]);
            }
            // p(i) >= minP * p(max)  <=>  logit(i) >= max + ln(minP); keeps the order, the maximum always survives.
            float threshold = max + (float) Math.log(params.minP());
            int kept = 0;
            for (int i = 0; i < n; i++) {
                if (x[id(i)] >= threshold) {
                    order[kept++] = order[i];
                }
            }
            n = kept;
        }
        return n;
    }

    /** The ids top-k / top-p / min-p keep for these logits (after the repetition penalty), sorted ascending. */
    int[] candidates(float[] logits, int offset, int vocabSize, int[] history, int historyLength) {
        float[] x = prepare(logits, offset, vocabSize, history, historyLength);
        int n = truncate(x, vocabSize);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = id(i);
        }
        Arrays.sort(ids);
        return ids;
    }

    /**
     * Puts the k best sort keys, best first, in {@code order[0..k)}: a bounded max-heap of keys (worst on
     * top) instead of sorting the whole vocabulary, O(vocab · log k).
     */
    private int selectTopK(float[] x, int vocabSize, int k) {
        int size = 0;
        for (int i = 0; i < vocabSize; i++) {
            long key = sortKey(x[i], i);
            if (size < k) {
                int c = size++;
                while (c > 0 && order[(c - 1) / 2] < key) { // sift up
                    order[c] = order[(c - 1) / 2];
                    c = (c - 1) / 2;
                }
                order[c] = key;
            } else if (key < order[0]) {
                int c = 0;
                while (true) { // sift down from the root
                    int l = 2 * c + 1;
                    if (l >= k) {
                        break;
                    }
                    int big = l + 1 < k && order[l + 1] > order[l] ? l + 1 : l;
                    if (order[big] <= key) {
                        break;
                    }
                    order[c] = order[big];
                    c = big;
                }
                order[c] = key;
            }
        }
        Arrays.sort(order, 0, size);
        return size;
    }

    /** Smallest prefix of the sorted candidates whose probability mass (temperature 1) reaches p. */
    private int nucleus(float[] x, int n, float p) {
        double total = weigh(x, n, x[id(0)], 1f);
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += weights[i] / total;
            if (cum >= p) {
                return i + 1;
            }
        }
        return n;
    }

    /**
     * weights[i] = exp((x[id(i)] − max) · scale) for the first n candidates; returns their sum. Vectorized
     * (gathered, then {@link VectorMath#expShifted}): with no top-k the candidates are the whole vocabulary,
     * and a Math.exp loop over 50k–150k logits would cost about a millisecond per token.
     */
    private double weigh(float[] x, int n, float max, float scale) {
        if (candidates.length < n) {
            candidates = new float[n];
            weights = new float[n];
        }
        for (int i = 0; i < n; i++) {
            candidates[i] = x[id(i)];
        }
        return VectorMath.expShifted(candidates, 0, n, max, scale, weights);
    }

    private int id(int i) {
        return (int) order[i];
    }

    /** A key whose ascending order is descending logit, then ascending id (the greedy tie rule). */
    private static long sortKey(float logit, int id) {
        int bits = Float.floatToIntBits(-logit);
        bits ^= (bits >> 31) & 0x7fffffff; // IEEE bits → signed-int order
        return ((long) bits << 32) | (id & 0xffffffffL);
    }

    static int argmax(float[] x, int n) {
        return argmax(x, 0, n);
    }

    /** The index (from off) of the largest of x[off, off + n); the lowest index on ties. */
    static int argmax(float[] x, int off, int n) {
        int best = 0;
        float max = x[off];
        for (int i = 1; i < n; i++) {
            if (x[off + i] > max) {
                max = x[off + i];
                best = i;
            }
        }
        return best;
    }

    /** SplitMix64 (Steele, Lea, Flood 2014): fixed arithmetic, so a seed gives the same draws on every JVM. */
    private double nextDouble() {
        long z = (rngState += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
