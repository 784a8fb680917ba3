package io.inferstream.runtime.engine;

import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** A shared preamble's full blocks are computed once and then served from the prefix cache. */
class PrefixCacheEngineTest {

    private static final int PREAMBLE = 200;
    private static final int SUFFIX = 10;
    private static final int REQUESTS = 8;

    private static List<int[]> prompts() {
        SplittableRandom rnd = new SplittableRandom(11);
        int[] preamble = TestModels.randomPrompt(rnd, PREAMBLE, 512);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < REQUESTS; r++) {
            int[] suffix = TestModels.randomPrompt(rnd, SUFFIX, 512);
            prompts.add(IntStream.concat(IntStream.of(preamble), IntStream.of(suffix)).toArray());
        }
        return prompts;
    }

    /** Submits all requests at once (the later ones wait for the preamble to be cached by the first). */
    private static List<Completion> run(LanguageModel model, EngineConfig config, List<int[]> prompts, EngineMetrics[] metrics) {
        List<Completion> out = new ArrayList<>();
        try (Engine engine = new Engine(model, null, config)) {
            List<CompletableFuture<Completion>> all = new ArrayList<>();
            for (int r = 0; r < REQUESTS; r++) {
                all.add(engine.submit(Request.builder(prompts.get(r)).params(SamplingParams.greedy(12)).build()));
            }
            all.forEach(f -> out.add(f.join()));
            metrics[0] = engine.metrics();
        }
        return out;
    }

    @Test
    void sharedPreambleBlocksAreComputedOnceAndOutputsEqualTheUncachedRun() {
        List<int[]> prompts = prompts();
        int blockSize = EngineConfig.DEFAULT_BLOCK_SIZE;
        int preambleBlocks = PREAMBLE / blockSize; // 12 full blocks = 192 tokens
        try (LanguageModel model = TestModels.stories260K()) {
            EngineMetrics[] cached = new EngineMetrics[1];
            EngineMetrics[] uncached = new EngineMetrics[1];
            List<Completion> withCache = run(model, EngineConfig.defaults(), prompts, cached);
            List<Completion> withoutCache = run(model, EngineConfig.defaults().withPrefixCaching(false), prompts, uncached);
            for (int r = 0; r < REQUESTS; r++) {
                assertArrayEquals(withoutCache.get(r).tokens(), withCache.get(r).tokens(), "request " + r);
            }
            int promptLength = PREAMBLE + SUFFIX;
            assertEquals((long) REQUESTS * promptLength, uncached[0].promptTokensComputed());
            assertEquals((long) REQUESTS * promptLength - (long) (REQUESTS - 1) * preambleBlocks * blockSize,
                    cached[0].promptTokensComputed(), "the preamble's full blocks were computed by the first request only");
            assertEquals((long) (REQUESTS - 1) * preambleBlocks, cached[0].prefixHitBlocks());
            assertEquals((long) REQUESTS * (promptLength / blockSize), cached[0].prefixQueriedBlocks());
            assertEquals((double) (REQUESTS - 1) * preambleBlocks * blockSize / (REQUESTS * promptLength),
                    cached[0].prefixHitRate(), 1e-12);
            int servedFromCache = 0;
            for (int r = 0; r < REQUESTS; r++) {
                servedFromCache += withCache.get(r).cachedPromptTokens();
            }
            assertEquals((REQUESTS - 1) * preambleBlocks * blockSize, servedFromCache);
        }
    }

    @Test
    void scoringLabelsAfterOnePromptComputesThePromptOnceAndMatchesGeneratedLogprobs() {
        SplittableRandom rnd = new SplittableRandom(3);
        int[] prompt = TestModels.randomPrompt(rnd, 100, 512);
        try (LanguageModel model = TestModels.stories260K(); Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            // Reference: the log-probabilities the sampler reports for greedily generated tokens.
            Completion gen = engine.submit(Request.builder(prompt)
                    .params(SamplingParams.greedy(6).withLogprobs(true)).build()).join();
            long computedBefore = engine.metrics().promptTokensComputed();
            ContinuationScore s = engine.submitScore(prompt, gen.tokens()).join();
            assertEquals(FinishReason.STOP, s.finishReason(), s.message());
            assertEquals(gen.tokens().length, s.logprobs().length);
            for (int i = 0; i < gen.tokens().length; i++) {
                assertEquals(gen.logprobs()[i], s.logprobs()[i], 1e-4, "logprob of continuation token " + i);
            }
            assertEquals(96, s.cachedTokens(), "the prompt's 6 full blocks came from the cache");
            // 3 "labels" scored after the same prompt: only the uncached tail is computed for each.
            List<CompletableFuture<ContinuationScore>> labels = new ArrayList<>();
            for (int l = 0; l < 3; l++) {
                labels.add(engine.submitScore(prompt, new int[] {10 + l, 20 + l}));
            }
            double[] sums = labels.stream().mapToDouble(f -> f.join().sum()).toArray();
            for (double sum : sums) {
                assertTrue(sum < 0 && Double.isFinite(sum));
            }
            // score: 100 + 6 - 1 tokens, 96 cached; each label: 100 + 2 - 1 tokens, 96 cached.
            assertEquals(computedBefore + (105 - 96) + 3 * (101 - 96), engine.metrics().promptTokensComputed());
        }
    }

    @Test
    void labelsScoredTogetherOnAFreshEngineComputeTheSharedPromptOnce() {
        SplittableRandom rnd = new SplittableRandom(4);
        int[] prompt = TestModels.randomPrompt(rnd, 70, 512); // 4 full blocks + 6 tokens
        int labels = 5;
        try (LanguageModel model = TestModels.stories260K()) {
            double[] separately = new double[labels];
            try (Engine engine = new Engine(model, null, EngineConfig.defaults().withPrefixCaching(false))) {
                for (int l = 0; l < labels; l++) {
                    separately[l] = engine.submitScore(prompt, new int[] {30 + l, 40 + l, 50 + l}).join().sum();
                }
            }
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                List<CompletableFuture<ContinuationScore>> scores = new ArrayList<>();
                for (int l = 0; l < labels; l++) {
                    scores.add(engine.submitScore(prompt, new int[] {30 + l, 40 + l, 50 + l}));
                }
                for (int l = 0; l < labels; l++) {
                    assertEquals(separately[l], scores.get(l).join().sum(), 1e-4, "label " + l);
                }
                // Each scoring runs prompt + 2 continuation tokens = 72; the 4 full prompt blocks (64) once.
                assertEquals(labels * 72L - (labels - 1) * 64L, engine.metrics().promptTokensComputed());
            }
        }
    }
}
