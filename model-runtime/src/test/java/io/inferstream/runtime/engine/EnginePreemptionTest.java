package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** When the KV cache cannot hold every running sequence, some are preempted and recomputed, not failed. */
class EnginePreemptionTest {

    @Test
    void requestsThatDoNotAllFitAreAllCompletedCorrectlyThroughPreemption() {
        int requests = 10;
        int promptLength = 30;
        int newTokens = 34; // 64 tokens = 4 blocks of 16 per request, 40 blocks for all at once
        try (LanguageModel model = TestModels.stories260K()) {
            ModelConfig c = model.config();
            long perBlock = KvStore.bytesPerBlock(c.nLayers(), c.kvDim(), EngineConfig.DEFAULT_BLOCK_SIZE, KvStore.Precision.F32);
            EngineConfig small = EngineConfig.defaults().withKvCacheBytes(12 * perBlock).withPrefixCaching(false);
            SplittableRandom rnd = new SplittableRandom(8);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < requests; r++) {
                prompts.add(TestModels.randomPrompt(rnd, promptLength, c.vocabSize()));
            }
            List<int[]> alone = new ArrayList<>();
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                for (int[] p : prompts) {
                    alone.add(engine.submit(Request.builder(p).params(SamplingParams.greedy(newTokens)).build()).join().tokens());
                }
            }
            try (Engine engine = new Engine(model, null, small)) {
                assertEquals(12, engine.numKvBlocks());
                List<CompletableFuture<Completion>> futures = new ArrayList<>();
                for (int[] p : prompts) {
                    futures.add(engine.submit(Request.builder(p).params(SamplingParams.greedy(newTokens)).build()));
                }
                int preempted = 0;
                for (int r = 0; r < requests; r++) {
                    Completion done = futures.get(r).join();
                    assertEquals(FinishReason.LENGTH, done.finishReason(), done.message());
                    assertArrayEquals(alone.get(r), done.tokens(), "request " + r + " after preemption");
                    preempted += done.preemptions();
                }
                EngineMetrics m = engine.metrics();
                assertTrue(m.preemptions() > 0, "the budget forced preemptions");
                assertEquals(m.preemptions(), preempted);
                assertTrue(m.promptTokensComputed() > (long) requests * promptLength,
                        "preempted prompts were computed again");
                assertEquals(0, m.kvBlocksUsed());
            }
        }
    }

    @Test
    void scoringAndGenerationUnderPreemptionGiveTheSameResultsAsWithRoom() {
        int scorings = 8;
        int generations = 3;
        try (LanguageModel model = TestModels.stories260K()) {
            ModelConfig c = model.config();
            long perBlock = KvStore.bytesPerBlock(c.nLayers(), c.kvDim(), EngineConfig.DEFAULT_BLOCK_SIZE, KvStore.Precision.F32);
            SplittableRandom rnd = new SplittableRandom(21);
            int[][] prefixes = new int[scorings][];
            int[][] continuations = new int[scorings][];
            for (int i = 0; i < scorings; i++) {
                prefixes[i] = TestModels.randomPrompt(rnd, 10, c.vocabSize());
                continuations[i] = TestModels.randomPrompt(rnd, 40, c.vocabSize());
            }
            int[][] prompts = new int[generations][];
            for (int g = 0; g < generations; g++) {
                prompts[g] = TestModels.randomPrompt(rnd, 4, c.vocabSize());
            }
            float[][] roomyScores = new float[scorings][];
            int[][] roomyTokens = new int[generations][];
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                for (int i = 0; i < scorings; i++) {
                    roomyScores[i] = engine.submitScore(prefixes[i], continuations[i]).join().logprobs();
                }
                for (int g = 0; g < generations; g++) {
                    roomyTokens[g] = engine.submit(Request.builder(prompts[g]).params(SamplingParams.greedy(60)).build())
                            .join().tokens();
                }
            }
            // 8 blocks; the generations grow to 4 blocks each while scorings are prefilled 13 tokens a step
            // next to them, so growing sequences must preempt the newest ones, scorings among them.
            EngineConfig tight = EngineConfig.defaults().withKvCacheBytes(8 * perBlock).withMaxBatchedTokens(16)
                    .withPrefixCaching(false);
            try (Engine engine = new Engine(model, null, tight)) {
                List<CompletableFuture<Completion>> gens = new ArrayList<>();
                for (int g = 0; g < generations; g++) {
                    gens.add(engine.submit(Request.builder(prompts[g]).params(SamplingParams.greedy(60)).build()));
                }
                List<CompletableFuture<ContinuationScore>> scores = new ArrayList<>();
                for (int i = 0; i < scorings; i++) {
                    scores.add(engine.submitScore(prefixes[i], continuations[i]));
                }
                for (int i = 0; i < scorings; i++) {
                    ContinuationScore s = scores.get(i).join();
                    assertEquals(FinishReason.STOP, s.finishReason(), s.message());
                    assertArrayEquals(roomyScores[i], s.logprobs(), 1e-5f, "scoring " + i);
                }
                for (int g = 0; g < generations; g++) {
                    assertArrayEquals(roomyTokens[g], gens.get(g).join().tokens(), "generation " + g);
                }
                assertTrue(engine.metrics().preemptions() > 0, "the budget forced preemptions");
            }
        }
    }
}
