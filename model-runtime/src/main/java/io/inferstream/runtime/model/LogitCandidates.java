package io.inferstream.runtime.model;

import io.inferstream.runtime.tensor.VectorMath;

import java.util.Arrays;

/**
 * The {@code k} best logits of each row of a forward step, instead of the whole vocabulary: what a sampler
 * needs for greedy, top-k, most top-p and min-p choices, so a GPU step copies back k pairs per row, not
 * {@code vocabSize} floats.
 *
 * <p>Row r's candidates are {@code logits[r*k .. r*k+k)} / {@code ids[r*k .. r*k+k)}, sorted by descending logit,
 * then ascending id ({@link #sortKey}: the order the sampler's top-k uses). {@code max[r]} and {@code logSumExp[r]}
 * are over the whole vocabulary (log-probs, and whether the candidates hold enough probability mass).
 * {@code fullRows} gives a row's full logits when the candidates do not decide a choice; it is valid only until
 * the model's next forward step.
 *
 * @param rows      logit rows of the step
 * @param k         candidates per row: the requested count, at most the vocabulary
 * @param vocabSize width of a full row
 * @param logits    [rows, k] candidate logits, best first
 * @param ids       [rows, k] their token ids
 * @param max       [rows] largest logit of each row
 * @param logSumExp [rows] log Σ exp(logit) over each row's whole vocabulary
 * @param fullRows  fetches one row's full logits (a copy), until the next forward step
 */
public record LogitCandidates(int rows, int k, int vocabSize, float[] logits, int[] ids, float[] max, double[] logSumExp,
                              FullRows fullRows) {

    /** The most candidates per row a model must support (the device kernel's limit). */
    public static final int MAX_K = 256;

    /** A row's full logits, fetched after the fact (from host memory, or from the device's logits buffer). */
    @FunctionalInterface
    public interface FullRows {
        /** @return [vocabSize] the full logits of row {@code row} */
        float[] row(int row);
    }

    public LogitCandidates {
        if (logits.length != rows * k || ids.length != rows * k || max.length != rows || logSumExp.length != rows) {
            throw new IllegalArgumentException("logit candidates of " + rows + " rows x " + k + " need " + rows * k
                    + " logits and ids and " + rows + " max / log-sum-exp entries, got " + logits.length + ", "
                    + ids.length + ", " + max.length + ", " + logSumExp.length);
        }
    }

    /** The full logits of {@code row} (see {@link FullRows}). */
    public float[] fullRow(int row) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException("logits row " + row + " of " + rows);
        }
        return fullRows.row(row);
    }

    /**
     * The candidate count a model computes for a request of {@code k}: k itself, capped at the vocabulary.
     *
     * @throws IllegalArgumentException unless 1 ≤ k ≤ {@link #MAX_K}
     */
    public static int effectiveK(int k, int vocabSize) {
        if (k < 1 || k > MAX_K) {
            throw new IllegalArgumentException("logit candidates per row must be in 1.." + MAX_K + ", got " + k);
        }
        return Math.min(k, vocabSize);
    }

    /**
     * The candidates of full logits {@code [rows, vocabSize]} (the CPU path, and the reference for the device
     * kernel). {@link #fullRows} copies rows out of {@code logits}, which the caller must then leave untouched.
     */
    public static LogitCandidates of(float[] logits, int rows, int vocabSize, int k) {
        int kk = effectiveK(k, vocabSize);
        if (logits.length != rows * vocabSize) {
            throw new IllegalArgumentException(logits.length + " logits are not " + rows + " rows of vocabulary " + vocabSize);
        }
        float[] top = new float[rows * kk];
        int[] ids = new int[rows * kk];
        float[] max = new float[rows];
        double[] lse = new double[rows];
        long[] heap = new long[kk];
        for (int r = 0; r < rows; r++) {
            int off = r * vocabSize;
            selectTop(logits, off, vocabSize, heap);
            for (int i = 0; i < kk; i++) {
                int id = (int) heap[i];
                ids[r * kk + i] = id;
                top[r * kk + i] = logits[off + id];
            }
            max[r] = top[r * kk]; // the best key is the largest logit (+0.0 before -0.0; NaN sorts last)
            lse[r] = VectorMath.logSumExp(logits, off, vocabSize);
        }
        return new LogitCandidates(rows, kk, vocabSize, top, ids, max, lse,
                row -> Arrays.copyOfRange(logits, row * vocabSize, (row + 1) * vocabSize));
    }

    /**
     * The {@code heap.length} smallest sort keys of x[off, off + n), ascending, into {@code heap}: a bounded
     * max-heap (worst on top), O(n · log k), and a float comparison against the worst kept logit skips most
     * of the vocabulary before any key is built.
     */
    private static void selectTop(float[] x, int off, int n, long[] heap) {
        int k = heap.length;
        int size = 0;
        float worst = Float.NEGATIVE_INFINITY; // logit of the heap's root once it is full
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (size == k && v < worst) {
                continue; // strictly below the worst kept logit: its key is larger (equal logits go to the keys)
            }
            long key = sortKey(v, i);
            if (size < k) {
                int c = size++;
                while (c > 0 && heap[(c - 1) / 2] < key) { // sift up
                    heap[c] = heap[(c - 1) / 2];
                    c = (c - 1) / 2;
                }
                heap[c] = key;
            } else if (key < heap[0]) {
                int c = 0;
                while (true) { // sift down from the root
                    int l = 2 * c + 1;
                    if (l >= k) {
                        break;
                    }
                    int big = l + 1 < k && heap[l + 1] > heap[l] ? l + 1 : l;
                    if (heap[big] <= key) {
                        break;
                    }
                    heap[c] = heap[big];
                    c = big;
                }
                heap[c] = key;
            } else {
                continue;
            }
            if (size == k) {
                worst = x[off + (int) heap[0]];
            }
        }
        Arrays.sort(heap, 0, size);
    }

    /**
     * A key whose ascending order is descending logit, then ascending id: the greedy tie rule, +0.0 before
     * -0.0, NaN after everything. The device kernel (sampling.cu topk_rows) builds the same order.
     */
    public static long sortKey(float logit, int id) {
        int bits = Float.floatToIntBits(-logit);
        bits ^= (bits >> 31) & 0x7fffffff; // IEEE bits → signed-int order
        return ((long) bits << 32) | (id & 0xffffffffL);
    }
}
