package io.inferstream.runtime.engine;

import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** Continuous batching must not change what any request generates. */
class EngineBatchingTest {

    private static final int REQUESTS = 32;
    private static final int NEW_TOKENS = 16;

    /** Small budget so that long prompts are prefilled in chunks next to other sequences' decodes. */
    private static EngineConfig config() {
        return EngineConfig.defaults().withMaxBatchedTokens(96).withKvCacheBytes(8L << 20);
    }

    private static List<int[]> prompts(int vocab) {
        SplittableRandom rnd = new SplittableRandom(2024);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < REQUESTS; r++) {
            prompts.add(TestModels.randomPrompt(rnd, 1 + (r * 37) % 150, vocab)); // 1 .. 150 tokens
        }
        return prompts;
    }

    private static Request greedy(int[] prompt, String id) {
        return Request.builder(prompt).id(id).params(SamplingParams.greedy(NEW_TOKENS)).build();
    }

    private static void assertBatchInvariant(LanguageModel model) {
        List<int[]> prompts = prompts(model.config().vocabSize());
        List<int[]> alone = new ArrayList<>();
        try (Engine engine = new Engine(model, null, config())) {
            for (int r = 0; r < REQUESTS; r++) {
                Completion c = engine.submit(greedy(prompts.get(r), "alone-" + r)).join();
                assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                assertEquals(1, c.maxBatchSize(), "alone means alone");
                alone.add(c.tokens());
            }
        }
        try (Engine engine = new Engine(model, null, config())) {
            List<CompletableFuture<Completion>> futures = new ArrayList<>();
            for (int r = 0; r < REQUESTS; r++) {
                futures.add(engine.submit(greedy(prompts.get(r), "batched-" + r)));
            }
            int maxBatch = 0;
            for (int r = 0; r < REQUESTS; r++) {
                Completion c = futures.get(r).join();
                assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                assertArrayEquals(alone.get(r), c.tokens(), "request " + r + " (prompt " + prompts.get(r).length
                        + " tokens) generated differently in a batch");
                maxBatch = Math.max(maxBatch, c.maxBatchSize());
            }
            EngineMetrics m = engine.metrics();
            assertTrue(maxBatch >= 8, "the requests really ran together (max batch " + maxBatch + ")");
            assertEquals(REQUESTS * NEW_TOKENS, m.generatedTokens());
            assertEquals(prompts.stream().mapToLong(p -> p.length).sum(), m.promptTokensComputed(),
                    "random prompts share no full block, so every prompt token is computed once");
            assertEquals(0, m.kvBlocksUsed(), "all blocks are released");
        }
    }

    @Test
    void greedyOutputIsIndependentOfBatchOnStories260K() {
        try (LanguageModel model = TestModels.stories260K()) {
            assertBatchInvariant(model);
        }
    }

    @Test
    void greedyOutputIsIndependentOfBatchOnRandomQ8Model(@TempDir Path dir) {
        try (LanguageModel model = TestModels.randomQ8(dir)) {
            assertBatchInvariant(model);
        }
    }

    @Test
    void greedyOutputIsIndependentOfBatchOnRandomGemma3ModelWithSlidingWindows(@TempDir Path dir) {
        // prompts of 1 .. 150 tokens against 16-position windows: windows start mid-block and skip whole blocks, in
        // chunked prefills next to other sequences' decodes
        try (LanguageModel model = TestModels.randomGemma3Q8(dir)) {
            assertBatchInvariant(model);
        }
    }

    @Test
    void greedyOutputIsIndependentOfBatchOnRandomGraniteMoeModel(@TempDir Path dir) {
        // each step's tokens are grouped by expert, a different grouping in every step of every schedule
        try (LanguageModel model = TestModels.randomGraniteMoeQ8(dir)) {
            assertBatchInvariant(model);
        }
    }

    /** llama2.c run.c's greedy output from BOS, reproduced by the engine while 15 other requests share its steps. */
    @Test
    void bosPromptReproducesLlama2cGreedyOutputInsideABatch() throws IOException {
        int[] reference;
        try (InputStream in = getClass().getResourceAsStream("/reference/stories260K-greedy-200.txt")) {
            assertNotNull(in, "test resource reference/stories260K-greedy-200.txt");
            String first = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")[0].trim();
            reference = Arrays.stream(first.split(" ")).mapToInt(Integer::parseInt).toArray();
        }
        int steps = 120;
        try (LanguageModel model = TestModels.stories260K(); Engine engine = new Engine(model, null, config())) {
            SplittableRandom rnd = new SplittableRandom(5);
            List<CompletableFuture<Completion>> others = new ArrayList<>();
            for (int i = 0; i < 15; i++) {
                others.add(engine.submit(Request.builder(TestModels.randomPrompt(rnd, 5 + 11 * i, 512)).id("other-" + i)
                        .params(SamplingParams.greedy(40).withTemperature(0.9f).withSeed(i)).build()));
            }
            Completion c = engine.submit(Request.builder(new int[] {1}).id("bos")
                    .params(SamplingParams.greedy(steps)).build()).join();
            assertEquals(FinishReason.LENGTH, c.finishReason());
            assertArrayEquals(Arrays.copyOfRange(reference, 1, 1 + steps), c.tokens());
            assertTrue(c.maxBatchSize() > 1, "it shared steps with the other requests");
            others.forEach(CompletableFuture::join);
        }
    }
}
