package io.inferstream.runtime.sampling;

import io.inferstream.runtime.model.LogitCandidates;
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

    /**
     * Relative error allowed between the vocabulary's probability mass computed from a log-sum-exp (another
     * summation order, or the device's float sum: ~1e-6) and the sampler's own sum over the sorted vocabulary: a
     * top-p cut decided from candidates must hold by this margin, else the full row decides.
     */
    private static final double MASS_MARGIN = 1e-4;

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
    private boolean lastUsedFullRow;

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
        ensureVocabulary(vocabSize);
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

    private void ensureVocabulary(int vocabSize) {
        if (work.length < vocabSize) {
            work = new float[vocabSize];
            order = new long[vocabSize];
            penalizedStamp = new int[vocabSize];
        }
    }

    private int sampleTruncated(float[] x, int vocabSize) {
        return draw(x, truncate(x, vocabSize));
    }

    /** Temperature and the draw over the n kept candidates {@code order[0..n)} of {@code x}. */
    private int draw(float[] x, int n) {
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

    // ------------------------------------------------------------------ sampling from candidates

    /**
     * How many logit candidates per row this sampler needs to choose exactly as from the full logits: 1 for
     * greedy, top-k for top-k ≤ {@link LogitCandidates#MAX_K}, {@link LogitCandidates#MAX_K} for top-p and min-p
     * (whose cut is known only once the candidates are there: {@link #sample(LogitCandidates, int, int[], int)}
     * fetches the full row when they do not decide it); 0 when the step needs full logits (a repetition penalty,
     * plain temperature sampling over the whole vocabulary, top-p over a top-k larger than the candidates).
     */
    public int candidatesWanted(int vocabSize) {
        if (params.repetitionPenalty() != 1f) {
            return 0; // penalized history tokens change the order and the log-sum-exp
        }
        if (params.isGreedy()) {
            return 1;
        }
        if (vocabSize <= LogitCandidates.MAX_K) {
            return vocabSize; // the candidates are the whole row
        }
        int topK = params.topK();
        boolean truncatedByK = topK > 0 && topK < vocabSize;
        if (truncatedByK && topK <= LogitCandidates.MAX_K) {
            return topK;
        }
        if (truncatedByK) {
            // top-p needs the mass of all top-k; min-p alone can still be decided from the best MAX_K
            return params.topP() >= 1f && params.minP() > 0f ? LogitCandidates.MAX_K : 0;
        }
        return params.topP() < 1f || params.minP() > 0f ? LogitCandidates.MAX_K : 0;
    }

    /**
     * Chooses the next token from row {@code row} of a step's candidates: the same token, the same random
     * draws and the same {@link #lastLogprob} as {@link #sample(float[], int, int, int[], int)} on that row's full
     * logits. When the candidates cannot decide (a penalty, a top-p or min-p cut beyond them, a NaN row) it
     * fetches the full row ({@link LogitCandidates#fullRow}) and samples that; nothing is drawn before.
     */
    public int sample(LogitCandidates c, int row, int[] history, int historyLength) {
        greedyLogits = null;
        lastUsedFullRow = false;
        boolean penalized = params.repetitionPenalty() != 1f && history != null;
        double lse = c.logSumExp()[row];
        if (!penalized && !Double.isNaN(lse)) {
            int token = params.isGreedy() ? greedyFromCandidates(c, row, lse) : sampleFromCandidates(c, row);
            if (token >= 0) {
                return token;
            }
        }
        lastUsedFullRow = true;
        return sample(c.fullRow(row), 0, c.vocabSize(), history, historyLength);
    }

    /** Whether the last {@link #sample(LogitCandidates, int, int[], int)} had to fetch the full row. */
    public boolean lastUsedFullRow() {
        return lastUsedFullRow;
    }

    /** argmax (lowest id on ties) from the candidates; -1 when a ±0 tie could reach past them. */
    private int greedyFromCandidates(LogitCandidates c, int row, double lse) {
        int k = c.k();
        int base = row * k;
        float best = c.logits()[base];
        int token = c.ids()[base];
        // Equal logits sort by id, except +0.0 before -0.0, which argmax treats as equal: the lowest id of the tie.
        for (int i = 1; i < k && c.logits()[base + i] == best; i++) {
            token = Math.min(token, c.ids()[base + i]);
        }
        if (best == 0f && k < c.vocabSize() && c.logits()[base + k - 1] == 0f) {
            return -1; // a -0.0 of lower id may lie beyond the candidates
        }
        lastLogprob = (float) (best - lse);
        return token;
    }

    /** Top-k / top-p / min-p and the draw from the candidates; -1 (nothing drawn) when they do not decide the cut. */
    private int sampleFromCandidates(LogitCandidates c, int row) {
        int vocab = c.vocabSize();
        int k = c.k();
        ensureVocabulary(vocab);
        for (int i = 0; i < k; i++) {
            int id = c.ids()[row * k + i];
            work[id] = c.logits()[row * k + i]; // only the candidates' entries of work are read below
            order[i] = id & 0xffffffffL;
        }
        int n = truncateCandidates(k, vocab, c.logSumExp()[row]);
        return n < 0 ? -1 : draw(work, n);
    }

    /**
     * {@link #truncate} on the candidates in {@code order[0..k)} (sorted like its top-k); -1 when the full path's
     * cut could include a token beyond them. On success {@code order[0..n)} is exactly what truncate keeps, in
     * its order.
     */
    private int truncateCandidates(int k, int vocabSize, double lse) {
        int topK = params.topK();
        float topP = params.topP();
        boolean whole = k >= vocabSize;
        int n;
        boolean complete;        // order[0..n) is the full path's kept prefix, not just its first k
        boolean idOrder = false; // without top-k and top-p the full path keeps the vocabulary in id order
        if (topK > 0 && topK < vocabSize) {
            if (topK <= k) {
                n = topK;
                complete = true;
                if (topP < 1f) {
                    n = nucleus(work, n, topP); // the mass of the top-k alone: the same floats, the same sums
                }
            } else if (topP < 1f) {
                return -1;
            } else {
                n = k;
                complete = false;
            }
        } else if (topP < 1f) {
            n = whole ? nucleus(work, k, topP) : boundedNucleus(k, topP, lse);
            if (n < 0) {
                return -1;
            }
            complete = true;
        } else {
            n = k;
            complete = whole;
            idOrder = true;
        }
        if (params.minP() > 0f) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, work[id(i)]); // candidate 0 is the row's maximum, as over the full set
            }
            float threshold = max + (float) Math.log(params.minP());
            if (!complete && !(work[id(n - 1)] < threshold)) {
                return -1; // tokens past the candidates may clear the threshold
            }
            int kept = 0;
            for (int i = 0; i < n; i++) {
                if (work[id(i)] >= threshold) {
                    order[kept++] = order[i];
                }
            }
            n = kept;
        } else if (!complete) {
            return -1;
        }
        if (idOrder) {
            Arrays.sort(order, 0, n); // plain ids: ascending id, the full path's order
        }
        return n;
    }

    /**
     * The nucleus of the whole vocabulary from its best k: the weights of the candidates are the very floats
     * {@link #nucleus} sums (same max, same exp), the total comes from the log-sum-exp; decided only when the
     * cumulative mass crosses p by more than {@link #MASS_MARGIN}, else -1.
     */
    private int boundedNucleus(int k, float p, double lse) {
        float max = work[id(0)];
        weigh(work, k, max, 1f);
        double total = Math.exp(lse - max); // Σ over the vocabulary of exp(x − max)
        double cum = 0;
        for (int i = 0; i < k; i++) {
            cum += weights[i] / total;
            if (cum * (1 + MASS_MARGIN) >= p) {
                return cum * (1 - MASS_MARGIN) >= p ? i + 1 : -1;
            }
        }
        return -1;
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
        return LogitCandidates.sortKey(logit, id);
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
