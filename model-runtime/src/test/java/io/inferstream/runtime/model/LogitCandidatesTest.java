package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.SplittableRandom;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The CPU candidates of full logits against a naive reference: every (logit, id) pair sorted by descending
 * logit then ascending id with a comparator, and log Σ exp in float64 with Math.exp.
 */
class LogitCandidatesTest {

    /** Random logits on a coarse grid (many ties), with some ±0 and -∞. */
    static float[] tiedLogits(SplittableRandom rnd, int rows, int vocab) {
        float[] x = new float[rows * vocab];
        for (int i = 0; i < x.length; i++) {
            double u = rnd.nextDouble();
            x[i] = u < 0.02 ? -0.0f : u < 0.04 ? 0.0f : u < 0.05 ? Float.NEGATIVE_INFINITY
                    : Math.round(rnd.nextGaussian() * 3 * 8) / 8f;
        }
        return x;
    }

    @ParameterizedTest(name = "rows={0} vocab={1} k={2}")
    @CsvSource({
        "3, 1000, 1",
        "3, 1000, 7",
        "2, 1000, 256",
        "2, 100, 256",
        "1, 128256, 256",
        "2, 128256, 1",
        "4, 4099, 64",
    })
    void candidatesAreTheBestLogitsInTheSamplersOrderWithTheRowsLogSumExp(int rows, int vocab, int k) {
        SplittableRandom rnd = new SplittableRandom(vocab * 31L + k);
        float[] logits = tiedLogits(rnd, rows, vocab);
        LogitCandidates c = LogitCandidates.of(logits, rows, vocab, k);
        int kk = Math.min(k, vocab);
        assertEquals(kk, c.k());
        for (int r = 0; r < rows; r++) {
            int off = r * vocab;
            Integer[] ids = new Integer[vocab];
            for (int i = 0; i < vocab; i++) {
                ids[i] = i;
            }
            // Float.compare orders +0.0 above -0.0, as the sampler's key does
            Arrays.sort(ids, (a, b) -> {
                int byLogit = Float.compare(logits[off + b], logits[off + a]);
                return byLogit != 0 ? byLogit : Integer.compare(a, b);
            });
            int[] wantIds = new int[kk];
            float[] wantLogits = new float[kk];
            for (int i = 0; i < kk; i++) {
                wantIds[i] = ids[i];
                wantLogits[i] = logits[off + ids[i]];
            }
            assertArrayEquals(wantIds, Arrays.copyOfRange(c.ids(), r * kk, (r + 1) * kk), "row " + r + " ids");
            assertArrayEquals(wantLogits, Arrays.copyOfRange(c.logits(), r * kk, (r + 1) * kk), "row " + r + " logits");
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) {
                max = Math.max(max, logits[off + i]);
            }
            double sum = 0;
            for (int i = 0; i < vocab; i++) {
                sum += Math.exp(logits[off + i] - max);
            }
            assertEquals(max, c.max()[r], 0.0, "row " + r + " max");
            assertEquals(max + Math.log(sum), c.logSumExp()[r], 1e-5, "row " + r + " log-sum-exp");
            assertArrayEquals(Arrays.copyOfRange(logits, off, off + vocab), c.fullRow(r), "row " + r + " full logits");
        }
    }

    @Test
    void candidateCountOutsideOneTo256IsRejected() {
        float[] logits = new float[10];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LogitCandidates.of(logits, 1, 10, 0));
        assertEquals("logit candidates per row must be in 1..256, got 0", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LogitCandidates.of(logits, 1, 10, 257));
    }
}
