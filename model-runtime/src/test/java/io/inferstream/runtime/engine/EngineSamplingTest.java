package io.inferstream.runtime.engine;

import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** Each request samples with its own seeded RNG, so its output does not depend on its batch. */
class EngineSamplingTest {

    @Test
    void seededSamplingGivesTheSameOutputAloneAndInABatchOf16() {
        SamplingParams params = SamplingParams.greedy(40).withTemperature(0.9f).withTopP(0.95f).withSeed(1234).withLogprobs(true);
        int[] prompt = {1, 403, 407, 261, 378};
        try (LanguageModel model = TestModels.stories260K()) {
            Completion alone;
            Completion differentSeed;
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                alone = engine.submit(Request.builder(prompt).params(params).build()).join();
                differentSeed = engine.submit(Request.builder(prompt).params(params.withSeed(99)).build()).join();
            }
            assertFalse(java.util.Arrays.equals(alone.tokens(), differentSeed.tokens()),
                    "sampling really is random: another seed gives another continuation");
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                SplittableRandom rnd = new SplittableRandom(3);
                List<CompletableFuture<Completion>> batch = new ArrayList<>();
                for (int i = 0; i < 15; i++) {
                    batch.add(engine.submit(Request.builder(TestModels.randomPrompt(rnd, 3 + 9 * i, 512))
                            .params(params.withSeed(i)).build()));
                }
                Completion inBatch = engine.submit(Request.builder(prompt).params(params).build()).join();
                batch.forEach(CompletableFuture::join);
                assertArrayEquals(alone.tokens(), inBatch.tokens());
                // Batched matrix kernels may sum in another order: log-probs agree to float rounding.
                assertArrayEquals(alone.logprobs(), inBatch.logprobs(), 1e-5f);
                assertTrue(inBatch.maxBatchSize() > 1, "it ran in a batch");
            }
        }
    }
}
