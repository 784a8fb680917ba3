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
}
