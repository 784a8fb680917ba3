package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import io.inferstream.runtime.tensor.VectorMath;

/**
 * Random inputs of one step's paged attention for the GPU attention tests, and their float64 reference: q [n, nHeads *
 * headDim] in [-2, 2), keys and values F16-representable in [-1, 1) (the same values in F16 and F32 pools, so one
 * reference serves both), each sequence's blocks drawn from a shuffled pool, and the metadata as steps upload it:
 * positions [n] | seq [n] | tables [seqs, maxBlocks].
 */
final class PagedAttentionCase {

    final int n;
    final int nHeads;
    final int nKvHeads;
    final int headDim;
    final int blockSize;
    final int maxBlocks;
    final int[] positions;
    final int[] seq;
    final int[][] tables;
    final float[] q;
    final float[] keys;
    final float[] values;
    final short[] keys16;
    final short[] values16;
    final int[] meta;

    PagedAttentionCase(int headDim, int nHeads, int nKvHeads, int blockSize, int[] positions, int[] seq, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        this.n = positions.length;
        this.nHeads = nHeads;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.positions = positions;
        this.seq = seq;
        int seqs = 0;
        for (int s : seq) {
            seqs = Math.max(seqs, s + 1);
        }
        int[] lengths = new int[seqs];
        for (int t = 0; t < n; t++) {
            lengths[seq[t]] = Math.max(lengths[seq[t]], positions[t] + 1);
        }
        int widest = 1;
        int usedBlocks = 0;
        for (int len : lengths) {
            int b = (len + blockSize - 1) / blockSize;
            widest = Math.max(widest, b);
            usedBlocks += b;
        }
        this.maxBlocks = widest;
        int numBlocks = usedBlocks + 3;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, new java.util.Random(rnd.nextLong()));
        tables = new int[seqs][maxBlocks];
        int next = 0;
        for (int s = 0; s < seqs; s++) {
            for (int b = 0; b < (lengths[s] + blockSize - 1) / blockSize; b++) {
                tables[s][b] = free.get(next++);
            }
        }
        int kvDim = nKvHeads * headDim;
        int slots = numBlocks * blockSize;
        q = new float[n * nHeads * headDim];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextDouble(-2, 2);
        }
        keys = new float[slots * kvDim];
        values = new float[slots * kvDim];
        keys16 = new short[keys.length];
        values16 = new short[values.length];
        for (int i = 0; i < keys.length; i++) {
            keys16[i] = VectorMath.f32ToF16((float) rnd.nextDouble(-1, 1));
            values16[i] = VectorMath.f32ToF16((float) rnd.nextDouble(-1, 1));
            keys[i] = VectorMath.f16ToF32(keys16[i]);
            values[i] = VectorMath.f16ToF32(values16[i]);
        }
        meta = new int[2 * n + seqs * maxBlocks];
        System.arraycopy(positions, 0, meta, 0, n);
        System.arraycopy(seq, 0, meta, n, n);
        for (int s = 0; s < seqs; s++) {
            System.arraycopy(tables[s], 0, meta, 2 * n + s * maxBlocks, maxBlocks);
        }
    }

    /** Float64 paged causal attention softmax(q k^T * scale) v: out [n, nHeads * headDim]. */
    float[] reference(double scale) {
        return reference(scale, 0);
    }

    /** {@link #reference(double)} with each token attending to its last {@code window} positions only (0: all). */
    float[] reference(double scale, int window) {
        return reference(scale, window, 0);
    }

    /** {@link #reference(double, int)} with every score capped to cap·tanh(score / cap) where {@code softcap} &gt; 0. */
    float[] reference(double scale, int window, double softcap) {
        int kvDim = nKvHeads * headDim;
        int group = nHeads / nKvHeads;
        int bs = blockSize;
        float[] out = new float[n * nHeads * headDim];
        for (int t = 0; t < n; t++) {
            int ctx = positions[t] + 1;
            int lo = window > 0 ? Math.max(0, ctx - window) : 0;
            for (int h = 0; h < nHeads; h++) {
                int koff = (h / group) * headDim;
                double[] s = new double[ctx];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = lo; p < ctx; p++) {
                    int slot = tables[seq[t]][p / bs] * bs + p % bs;
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += (double) q[(t * nHeads + h) * headDim + d] * keys[slot * kvDim + koff + d];
                    }
                    s[p] = dot * scale;
                    if (softcap > 0) {
                        s[p] = softcap * Math.tanh(s[p] / softcap);
                    }
                    max = Math.max(max, s[p]);
                }
                double sum = 0;
                double[] o = new double[headDim];
                for (int p = lo; p < ctx; p++) {
                    int slot = tables[seq[t]][p / bs] * bs + p % bs;
                    double e = Math.exp(s[p] - max);
                    sum += e;
                    for (int d = 0; d < headDim; d++) {
                        o[d] += e * values[slot * kvDim + koff + d];
                    }
                }
                for (int d = 0; d < headDim; d++) {
                    out[(t * nHeads + h) * headDim + d] = (float) (o[d] / sum);
                }
            }
        }
        return out;
    }
}
