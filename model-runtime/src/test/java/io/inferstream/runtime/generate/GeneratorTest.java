package io.inferstream.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.RandomModels;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.sampling.SamplingParams;

class GeneratorTest {

    private static final int[] PROMPT = {1, 40, 41, 42, 7};

    @TempDir
    static Path dir;
    private static GgufFile gguf;
    private static LlamaModel model;

    @BeforeAll
    static void load() {
        gguf = RandomModels.llamaF32(dir.resolve("m.gguf"));
        model = LlamaModel.load(gguf);
    }

    @AfterAll
    static void close() {
        gguf.close();
    }

    @Test
    void greedyDecodingWithTheKvCacheEqualsDecodingWithoutIt() {
        SamplingParams params = SamplingParams.greedy(40);
        GenerationResult cached = new Generator(model, null).generate(PROMPT, params, null);
        GenerationResult recomputed = new Generator(model, null).generateWithoutCache(PROMPT, params);
        assertEquals(40, cached.tokens().length);
        assertArrayEquals(recomputed.tokens(), cached.tokens());
        assertEquals(FinishReason.LENGTH, cached.finishReason());
        GenerationResult f16 = new Generator(model, null, KvStore.Precision.F16).generate(PROMPT, params, null);
        assertEquals(40, f16.tokens().length);
    }

    @Test
    void sampledDecodingWithTheKvCacheEqualsDecodingWithoutIt() {
        SamplingParams params = SamplingParams.greedy(30).withTemperature(0.9f).withTopK(40).withSeed(5);
        assertArrayEquals(new Generator(model, null).generateWithoutCache(PROMPT, params).tokens(),
                new Generator(model, null).generate(PROMPT, params, null).tokens());
    }

    @Test
    void aStopTokenEndsGenerationWithReasonStop() {
        int[] free = new Generator(model, null).generate(PROMPT, SamplingParams.greedy(20), null).tokens();
        int stop = free[6];
        int first = indexOf(free, stop);
        GenerationResult r = new Generator(model, null)
                .generate(PROMPT, SamplingParams.greedy(20).withStopTokens(List.of(stop)), null);
        assertEquals(FinishReason.STOP, r.finishReason());
        assertArrayEquals(Arrays.copyOf(free, first + 1), r.tokens());
    }

    @Test
    void greedyLogprobsAreTheLogSoftmaxOfTheChosenTokens() {
        GenerationResult r = new Generator(model, null).generate(PROMPT, SamplingParams.greedy(6), null);
        int[] all = concat(PROMPT, r.tokens());
        for (int i = 0; i < r.tokens().length; i++) {
            double expected = logSoftmax(logitsAfter(model, all, PROMPT.length + i), r.tokens()[i]);
            assertEquals(expected, r.logprobs()[i], 1e-4);
        }
    }

    @Test
    void beamSearchWithOneBeamEqualsGreedy() {
        int[] free = new Generator(model, null).generate(PROMPT, SamplingParams.greedy(25), null).tokens();
        SamplingParams params = SamplingParams.greedy(25).withStopTokens(List.of(free[9]));
        GenerationResult greedy = new Generator(model, null).generate(PROMPT, params, null);
        GenerationResult beam = new Generator(model, null).generate(PROMPT, params.withBeams(1, 1f), null);
        // numBeams = 1 goes through the greedy loop; drive the beam search itself too
        List<BeamSearch.Hypothesis> one = new BeamSearch(model, null, KvStore.Precision.F32)
                .search(PROMPT, params.withBeams(1, 1f));
        assertArrayEquals(greedy.tokens(), beam.tokens());
        assertArrayEquals(greedy.tokens(), one.get(0).tokens());
        assertEquals(FinishReason.STOP, one.get(0).finishReason());
    }

    @Test
    void beamSearchReturnsTheFinishedHypothesisWithTheHighestLengthNormalisedLogprob() {
        int[] free = new Generator(model, null).generate(PROMPT, SamplingParams.greedy(12), null).tokens();
        for (float lengthPenalty : new float[] {1f, 0f}) {
            SamplingParams params = SamplingParams.greedy(12).withStopTokens(List.of(free[2], free[5]))
                    .withBeams(4, lengthPenalty);
            List<BeamSearch.Hypothesis> finished = new BeamSearch(model, null, KvStore.Precision.F32).search(PROMPT, params);
            assertTrue(finished.size() >= 2, "finished hypotheses: " + finished.size());
            double best = Double.NEGATIVE_INFINITY;
            double[] scores = new double[finished.size()];
            for (int h = 0; h < finished.size(); h++) {
                int[] gen = finished.get(h).tokens();
                // teacher-forced: one forward over prompt + hypothesis, log-softmax of each generated token
                int[] all = concat(PROMPT, gen);
                float[] logits = logitsAtEveryPosition(model, all);
                int vocab = model.config().vocabSize();
                double logprob = 0;
                for (int i = 0; i < gen.length; i++) {
                    logprob += logSoftmax(Arrays.copyOfRange(logits, (PROMPT.length + i - 1) * vocab,
                            (PROMPT.length + i) * vocab), gen[i]);
                }
                assertEquals(logprob, finished.get(h).logprob(), 1e-3, "log-prob of hypothesis " + h);
                scores[h] = logprob / Math.pow(gen.length, lengthPenalty);
                best = Math.max(best, scores[h]);
            }
            assertEquals(best, scores[0], 1e-9, "returned hypothesis is not the best: " + Arrays.toString(scores));
            GenerationResult r = new Generator(model, null).generate(PROMPT, params, null);
            assertArrayEquals(finished.get(0).tokens(), r.tokens());
        }
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return -1;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static float[] logitsAtEveryPosition(LanguageModel m, int[] tokens) {
        int n = tokens.length;
        KvStore kv = m.newKvStore((n + 15) / 16, 16, KvStore.Precision.F32);
        int[] pos = Generator.identity(n);
        return m.forward(new TokenBatch(tokens, pos, new int[n], new int[][] {Generator.identity(kv.numBlocks())}, pos), kv);
    }

    /** Logits after the first {@code length} tokens. */
    private static float[] logitsAfter(LanguageModel m, int[] tokens, int length) {
        int vocab = m.config().vocabSize();
        float[] all = logitsAtEveryPosition(m, Arrays.copyOf(tokens, length));
        return Arrays.copyOfRange(all, (length - 1) * vocab, length * vocab);
    }

    private static double logSoftmax(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double z = 0;
        for (float l : logits) {
            z += Math.exp(l - max);
        }
        return logits[token] - max - Math.log(z);
    }
}
