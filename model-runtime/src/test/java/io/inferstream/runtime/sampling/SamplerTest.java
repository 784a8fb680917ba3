package io.inferstream.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

class SamplerTest {

    private static final SamplingParams PLAIN = SamplingParams.greedy(16).withTemperature(1f);

    /** Logits whose softmax is exactly {@code probs} (up to float rounding). */
    private static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            l[i] = (float) Math.log(probs[i]);
        }
        return l;
    }

    private static int[] draw(Sampler s, float[] logits, int times) {
        int[] out = new int[times];
        for (int i = 0; i < times; i++) {
            out[i] = s.sample(logits, 0, logits.length, null, 0);
        }
        return out;
    }

    @Test
    void sameSeedDrawsTheSameTokensAndAnotherSeedDoesNot() {
        float[] logits = new float[300];
        Random r = new Random(7);
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) r.nextGaussian();
        }
        SamplingParams p = PLAIN.withTopK(50).withTopP(0.95f).withSeed(42);
        int[] a = draw(new Sampler(p), logits, 200);
        int[] b = draw(new Sampler(p), logits, 200);
        int[] c = draw(new Sampler(p.withSeed(43)), logits, 200);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
    }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIdOnTies() {
        Sampler s = new Sampler(SamplingParams.greedy(4));
        float[] logits = {0.5f, 3f, -1f, 3f, 2.9f};
        assertEquals(1, s.sample(logits, 0, 5, null, 0));
        // offset: the second row of a [2, 3] logits matrix
        float[] rows = {9f, 0f, 0f, 1f, 4f, 4f};
        assertEquals(1, s.sample(rows, 3, 3, null, 0));
        // greedy log-prob is under the raw distribution
        double lse = Math.log(Math.exp(1) + 2 * Math.exp(4));
        assertEquals(4 - lse, s.lastLogprob(), 1e-6);
    }

    @Test
    void topKKeepsTheKHighestLogitsWithLowerIdsWinningTies() {
        float[] logits = {1f, 5f, 3f, 5f, 2f, 0f};
        assertArrayEquals(new int[] {1, 3}, new Sampler(PLAIN.withTopK(2)).candidates(logits, 0, 6, null, 0));
        assertArrayEquals(new int[] {1, 2, 3}, new Sampler(PLAIN.withTopK(3)).candidates(logits, 0, 6, null, 0));
        float[] tied = {5f, 4f, 1f, 4f};
        assertArrayEquals(new int[] {0, 1}, new Sampler(PLAIN.withTopK(2)).candidates(tied, 0, 4, null, 0));
        assertEquals(6, new Sampler(PLAIN).candidates(logits, 0, 6, null, 0).length);
    }

    @Test
    void topKOnALargeVocabularyKeepsExactlyTheKLargest() {
        Random r = new Random(3);
        float[] logits = new float[50_000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (r.nextGaussian() * 3); // distinct almost surely
        }
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
        for (int k : new int[] {1, 40, 1000}) {
            int[] expected = Arrays.stream(ids, 0, k).mapToInt(Integer::intValue).sorted().toArray();
            assertArrayEquals(expected, new Sampler(PLAIN.withTopK(k)).candidates(logits, 0, logits.length, null, 0), "k = " + k);
        }
    }

    @Test
    void topPKeepsTheSmallestSetWhoseMassReachesP() {
        // probabilities 0.05, 0.5, 0.1, 0.2, 0.15 at ids 0..4
        float[] logits = logitsOf(0.05, 0.5, 0.1, 0.2, 0.15);
        assertArrayEquals(new int[] {1}, new Sampler(PLAIN.withTopP(0.45f)).candidates(logits, 0, 5, null, 0));
        assertArrayEquals(new int[] {1, 3}, new Sampler(PLAIN.withTopP(0.65f)).candidates(logits, 0, 5, null, 0));
        assertArrayEquals(new int[] {1, 3, 4}, new Sampler(PLAIN.withTopP(0.8f)).candidates(logits, 0, 5, null, 0));
        assertArrayEquals(new int[] {1, 2, 3, 4}, new Sampler(PLAIN.withTopP(0.9f)).candidates(logits, 0, 5, null, 0));
        // top-p works on what top-k left: mass renormalized over {1, 3} is 0.714, 0.286
        assertArrayEquals(new int[] {1}, new Sampler(PLAIN.withTopK(2).withTopP(0.7f)).candidates(logits, 0, 5, null, 0));
        assertArrayEquals(new int[] {1, 3}, new Sampler(PLAIN.withTopK(2).withTopP(0.75f)).candidates(logits, 0, 5, null, 0));
    }

    @Test
    void minPDropsTokensLessLikelyThanTheFractionOfTheMostLikely() {
        float[] logits = logitsOf(0.2, 0.4, 0.05, 0.1, 0.25);
        // threshold 0.3 * 0.4 = 0.12
        assertArrayEquals(new int[] {0, 1, 4}, new Sampler(PLAIN.withMinP(0.3f)).candidates(logits, 0, 5, null, 0));
        // threshold 0.2 * 0.4 = 0.08
        assertArrayEquals(new int[] {0, 1, 3, 4}, new Sampler(PLAIN.withMinP(0.2f)).candidates(logits, 0, 5, null, 0));
        // the candidate set does not depend on the temperature (truncation happens at temperature 1)
        assertArrayEquals(new int[] {0, 1, 4},
                new Sampler(PLAIN.withMinP(0.3f).withTemperature(5f)).candidates(logits, 0, 5, null, 0));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOncePerToken() {
        float[] logits = {2f, -1f, 1.5f, 0.5f};
        int[] history = {0, 1, 0, 0};
        Sampler s = new Sampler(SamplingParams.greedy(4).withRepetitionPenalty(2f));
        // penalized: {1, -2, 1.5, 0.5} → argmax moves from 0 to 2
        assertEquals(2, s.sample(logits, 0, 4, history, history.length));
        double lse = Math.log(Math.exp(1) + Math.exp(-2) + Math.exp(1.5) + Math.exp(0.5));
        assertEquals(1.5 - lse, s.lastLogprob(), 1e-6);
        assertArrayEquals(new float[] {2f, -1f, 1.5f, 0.5f}, logits, "the caller's logits are left alone");
        // only the first historyLength entries count
        assertEquals(0, s.sample(logits, 0, 4, history, 0));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmaxOfLogitsOverTemperature() {
        float[] logits = {2f, 1f, 0.5f, 0f, -1f};
        float t = 0.7f;
        double[] expected = new double[5];
        double z = 0;
        for (int i = 0; i < 5; i++) {
            expected[i] = Math.exp(logits[i] / t);
            z += expected[i];
        }
        Sampler s = new Sampler(PLAIN.withTemperature(t).withSeed(1234));
        int draws = 20000;
        int[] counts = new int[5];
        for (int i = 0; i < draws; i++) {
            int tok = s.sample(logits, 0, 5, null, 0);
            counts[tok]++;
            assertEquals(Math.log(expected[tok] / z), s.lastLogprob(), 1e-5);
        }
        double chi2 = 0;
        for (int i = 0; i < 5; i++) {
            double e = draws * expected[i] / z;
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
        }
        // 4 degrees of freedom: P(chi2 > 18.47) = 0.001
        assertTrue(chi2 < 18.47, "chi-square " + chi2 + " for counts " + Arrays.toString(counts));
    }

    @Test
    void truncatedSamplingDrawsOnlyCandidatesInRenormalizedProportion() {
        float[] logits = logitsOf(0.05, 0.5, 0.1, 0.2, 0.15);
        Sampler s = new Sampler(PLAIN.withTopK(2).withSeed(99));
        int[] counts = new int[5];
        int draws = 10000;
        for (int i = 0; i < draws; i++) {
            int tok = s.sample(logits, 0, 5, null, 0);
            counts[tok]++;
            // the log-prob is under the renormalized candidate distribution
            assertEquals(Math.log((tok == 1 ? 0.5 : 0.2) / 0.7), s.lastLogprob(), 1e-5);
        }
        assertEquals(draws, counts[1] + counts[3]);
        double e1 = draws * 0.5 / 0.7;
        double e3 = draws * 0.2 / 0.7;
        double chi2 = (counts[1] - e1) * (counts[1] - e1) / e1 + (counts[3] - e3) * (counts[3] - e3) / e3;
        assertTrue(chi2 < 10.83, "chi-square " + chi2 + " (1 d.o.f., p = 0.001)");
    }
}
