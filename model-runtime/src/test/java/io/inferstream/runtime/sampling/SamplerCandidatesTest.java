package io.inferstream.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.model.LogitCandidates;

/**
 * Sampling from a row's best logits chooses exactly what sampling the full row chooses: the same token, the same
 * log-prob, the same random draws (checked over consecutive rows: one extra or missing draw shifts all later
 * choices), for every kind of request, whether the candidates decide or the full row has to be fetched.
 */
class SamplerCandidatesTest {

    private static final int VOCAB = 4000;
    private static final int ROWS = 60;

    private static final SamplingParams BASE = SamplingParams.greedy(16).withLogprobs(true);

    /** Peaked rows on a 1/8 grid (ties), so that a few hundred candidates usually hold 90% of the mass. */
    private static float[] rows(long seed, double scale) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[ROWS * VOCAB];
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.round(rnd.nextGaussian() * scale * 8) / 8f;
        }
        return x;
    }

    /** Samples ROWS rows both ways and returns how many rows fetched the full row. */
    private static int assertSameChoices(SamplingParams params, float[] logits, int k, int[] history) {
        Sampler full = new Sampler(params);
        Sampler fromCandidates = new Sampler(params);
        LogitCandidates c = LogitCandidates.of(logits, ROWS, VOCAB, k);
        int fetched = 0;
        int h = history == null ? 0 : history.length;
        for (int r = 0; r < ROWS; r++) {
            int want = full.sample(logits, r * VOCAB, VOCAB, history, h);
            int got = fromCandidates.sample(c, r, history, h);
            assertEquals(want, got, params + " row " + r);
            assertEquals(full.lastLogprob(), fromCandidates.lastLogprob(), 0f, params + " row " + r + " log-prob");
            fetched += fromCandidates.lastUsedFullRow() ? 1 : 0;
        }
        return fetched;
    }

    private static int kFor(Sampler s) {
        int w = s.candidatesWanted(VOCAB);
        return w == 0 ? LogitCandidates.MAX_K : Integer.highestOneBit(w) < w ? 2 * Integer.highestOneBit(w) : w;
    }

    @Test
    void greedyAndTopKWithinTheCandidatesAreDecidedByThemAlone() {
        float[] logits = rows(1, 3);
        for (SamplingParams p : List.of(BASE, BASE.withTemperature(0.8f).withTopK(40).withSeed(3),
                BASE.withTemperature(1.3f).withTopK(10).withSeed(4),
                BASE.withTemperature(0.7f).withTopK(100).withTopP(0.8f).withMinP(0.02f).withSeed(5),
                BASE.withTemperature(1f).withTopK(256).withMinP(0.05f).withSeed(6))) {
            int k = kFor(new Sampler(p));
            assertEquals(0, assertSameChoices(p, logits, k, null), p + ": no row needs the full logits");
        }
    }

    @Test
    void topPAndMinPOverTheVocabularyAreDecidedByTheCandidatesOrByTheFetchedRow() {
        for (double scale : new double[] {4, 1.5}) {
            float[] logits = rows(2 + (long) scale, scale);
            for (SamplingParams p : List.of(BASE.withTemperature(1f).withTopP(0.9f).withSeed(7),
                    BASE.withTemperature(1f).withMinP(0.05f).withSeed(8),
                    BASE.withTemperature(0.9f).withTopP(0.5f).withMinP(0.1f).withSeed(9),
                    BASE.withTemperature(1f).withTopK(1000).withMinP(0.2f).withSeed(10))) {
                assertEquals(LogitCandidates.MAX_K, new Sampler(p).candidatesWanted(VOCAB), p.toString());
                int fetched = assertSameChoices(p, logits, LogitCandidates.MAX_K, null);
                if (scale == 4) {
                    assertTrue(fetched < ROWS / 2, p + ": the candidates decided most rows (" + fetched + " fetched)");
                }
            }
        }
    }

    @Test
    void requestsThatNeedTheWholeRowFetchItAndStillChooseTheSame() {
        float[] logits = rows(11, 2);
        int[] history = {5, 17, 17, 900, 3999, 40};
        SamplingParams penalty = BASE.withTemperature(0.8f).withTopK(40).withRepetitionPenalty(1.3f).withSeed(12);
        SamplingParams greedyPenalty = BASE.withRepetitionPenalty(1.5f);
        SamplingParams plain = BASE.withTemperature(1f).withSeed(13);
        SamplingParams topPOverLargeTopK = BASE.withTemperature(1f).withTopK(1000).withTopP(0.9f).withSeed(14);
        for (SamplingParams p : List.of(penalty, greedyPenalty, plain, topPOverLargeTopK)) {
            assertEquals(0, new Sampler(p).candidatesWanted(VOCAB), p + " asks for full logits");
            assertEquals(ROWS, assertSameChoices(p, logits, 64, history), p + ": every row fetched");
        }
    }

    @Test
    void greedyOnASignedZeroTieBeyondTheCandidatesFetchesTheRow() {
        // argmax treats -0.0 and +0.0 as equal (lowest id wins); the candidate order puts +0.0 first
        float[] logits = new float[VOCAB * ROWS];
        java.util.Arrays.fill(logits, -1f);
        for (int r = 0; r < ROWS; r++) {
            logits[r * VOCAB + 3] = -0.0f;
            for (int i = 10; i < 20; i++) {
                logits[r * VOCAB + i] = 0.0f;
            }
        }
        assertEquals(ROWS, assertSameChoices(BASE, logits, 4, null));
        assertEquals(0, assertSameChoices(BASE, logits, 16, null), "with the whole tie among the candidates");
    }
}
