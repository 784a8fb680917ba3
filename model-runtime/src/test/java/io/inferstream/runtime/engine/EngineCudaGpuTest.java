package io.inferstream.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.inferstream.runtime.checkpoint.GgufCheckpoint;
import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.CudaTestDevice;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;

/**
 * The engine drives the GPU model unchanged: continuous batching of stories260K requests (chunked prefills
 * next to decodes, the KV cache on the device) generates, per request, exactly the CPU engine's greedy tokens.
 */
class EngineCudaGpuTest {

    private static final int REQUESTS = 24;
    private static final int NEW_TOKENS = 24;

    private CudaDevice device;

    @BeforeEach
    void open() {
        device = CudaTestDevice.require();
    }

    @Test
    void continuousBatchingOnTheGpuGeneratesTheCpuEnginesTokens() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults());
             LanguageModel cpu = TestModels.stories260K()) {
            SplittableRandom rnd = new SplittableRandom(77);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < REQUESTS; r++) {
                prompts.add(TestModels.randomPrompt(rnd, 1 + (r * 29) % 120, cpu.config().vocabSize()));
            }
            List<int[]> onCpu = run(cpu, prompts);
            List<int[]> onGpu = run(gpu, prompts);
            for (int r = 0; r < REQUESTS; r++) {
                assertArrayEquals(onCpu.get(r), onGpu.get(r), "request " + r + " (prompt " + prompts.get(r).length + " tokens)");
            }
        }
    }

    /**
     * Speculative decoding on the GPU: decode chunks with guessed tokens (several tokens of one sequence next to other
     * sequences' single decode tokens, the device returning logits for each) generate the plain GPU engine's and the
     * CPU engine's greedy tokens, with guesses kept.
     */
    @Test
    void speculativeDecodingOnTheGpuGeneratesThePlainTokens() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults());
             LanguageModel cpu = TestModels.stories260K()) {
            SplittableRandom rnd = new SplittableRandom(79);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < 10; r++) {
                int[] half = TestModels.randomPrompt(rnd, 4 + 3 * r, cpu.config().vocabSize());
                int[] p = java.util.Arrays.copyOf(half, 2 * half.length); // a repeated half: something to look up
                System.arraycopy(half, 0, p, half.length, half.length);
                prompts.add(p);
            }
            EngineConfig speculative = EngineConfig.defaults().withMaxBatchedTokens(96).withKvCacheBytes(
                    KvStore.bytesPerBlock(cpu.config().nLayers(), cpu.config().kvDim(), 16, KvStore.Precision.F32) * 256)
                    .withSpeculation(new io.inferstream.runtime.speculative.Speculation(4, 2, 4, 16));
            List<int[]> plainGpu = run(gpu, prompts);
            List<int[]> plainCpu = run(cpu, prompts);
            List<int[]> guessed;
            long kept;
            try (Engine engine = new Engine(gpu, null, speculative)) {
                guessed = new ArrayList<>();
                List<CompletableFuture<Completion>> futures = new ArrayList<>();
                for (int r = 0; r < prompts.size(); r++) {
                    futures.add(engine.submit(Request.builder(prompts.get(r)).id("s" + r).params(SamplingParams.greedy(NEW_TOKENS)).build()));
                }
                futures.forEach(f -> guessed.add(f.join().tokens()));
                kept = engine.metrics().acceptedDraftTokens();
            }
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(plainGpu.get(r), guessed.get(r), "request " + r + " against the plain GPU engine");
                assertArrayEquals(plainCpu.get(r), guessed.get(r), "request " + r + " against the CPU engine");
            }
            assertTrue(kept > 0, "guesses were kept");
        }
    }

    /**
     * An auto KV budget (the CLI's and jobs' default) on the GPU takes what the model's memory plan leaves after the
     * weights and activations, capped at every sequence's full context, allocated on the device when the engine starts;
     * the engine then generates the tokens of one with a small fixed budget.
     */
    @Test
    void anAutoKvCacheTakesWhatTheMemoryPlanLeaves() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            EngineConfig auto = EngineConfig.defaults().withMaxBatchedTokens(96).withKvCacheBytes(EngineConfig.AUTO_KV_CACHE);
            long perBlock = KvStore.bytesPerBlock(gpu.config().nLayers(), gpu.config().kvDim(), auto.blockSize(), auto.kvPrecision());
            long cap = perBlock * auto.maxSequences() * ((gpu.config().contextLength() + auto.blockSize() - 1) / auto.blockSize());
            long expected = Math.min(gpu.memoryPlan().kvBytes(), cap) / perBlock * perBlock;
            // the plan divides the device's real memory: its total and what was free before the weights went up
            long[] now = device.memoryInfo();
            assertEquals(now[1], gpu.memoryPlan().deviceTotal());
            assertTrue(gpu.memoryPlan().deviceFree() >= now[0] + gpu.weightBytes(), gpu.memoryPlan().summary());
            try (Engine engine = new Engine(gpu, null, auto)) {
                assertEquals(expected, engine.config().kvCacheBytes());
                assertEquals(expected / perBlock, engine.numKvBlocks());
                assertTrue(engine.numKvBlocks() > 0);
                assertEquals(engine.numKvBlocks(), engine.kvCacheSizing().blocks());
                assertTrue(engine.kvCacheSizing().source().startsWith(expected <= gpu.memoryPlan().kvBytes() - perBlock
                        ? "auto: enough for all 64 sequences" : "auto: what the device memory plan leaves"),
                        engine.kvCacheSizing().toString());
            }
            SplittableRandom rnd = new SplittableRandom(78);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < 8; r++) { // 8: the batch the run asserts (12 took a third longer on the emulated driver)
                prompts.add(TestModels.randomPrompt(rnd, 1 + (r * 29) % 120, gpu.config().vocabSize()));
            }
            List<int[]> fixed = run(gpu, prompts, EngineConfig.defaults().withMaxBatchedTokens(96).withKvCacheBytes(
                    perBlock * 256));
            List<int[]> withAuto = run(gpu, prompts, auto);
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(fixed.get(r), withAuto.get(r), "request " + r);
            }
        }
    }

    /**
     * On the GPU, steps served by the device's top-k candidates (topk_rows) generate the tokens of full-logit steps
     * for greedy, top-k, top-p, min-p and seeded-temperature requests batched together, and steps with a penalty or
     * a scoring request take the full logits. Log-probs agree to float rounding (the device sums exp in float).
     */
    @Test
    void candidateStepsOnTheGpuGenerateTheFullLogitStepsTokens() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            List<SamplingParams> params = new ArrayList<>(EngineCandidatesTest.FROM_CANDIDATES);
            EngineCandidatesTest.Run full = EngineCandidatesTest.run(gpu, params, false, false);
            EngineCandidatesTest.Run fromCandidates = EngineCandidatesTest.run(gpu, params, true, false);
            for (int i = 0; i < full.completions().size(); i++) {
                Completion a = full.completions().get(i);
                Completion b = fromCandidates.completions().get(i);
                assertArrayEquals(a.tokens(), b.tokens(), a.requestId() + " tokens");
                assertArrayEquals(a.logprobs(), b.logprobs(), 1e-5f, a.requestId() + " log-probs");
            }
            assertTrue(fromCandidates.steps().stream().allMatch(k -> k > 0), "every step from candidates: " + fromCandidates.steps());
            params.add(EngineCandidatesTest.PENALTY);
            EngineCandidatesTest.Run mixedFull = EngineCandidatesTest.run(gpu, params, false, true);
            EngineCandidatesTest.Run mixed = EngineCandidatesTest.run(gpu, params, true, true);
            for (int i = 0; i < mixedFull.completions().size(); i++) {
                assertArrayEquals(mixedFull.completions().get(i).tokens(), mixed.completions().get(i).tokens(), "mixed request " + i);
            }
            assertArrayEquals(mixedFull.score().logprobs(), mixed.score().logprobs(), 1e-5f, "continuation log-probs");
            assertTrue(mixed.steps().contains(0), "penalty / scoring steps took full logits: " + mixed.steps());
        }
    }

    private static List<int[]> run(LanguageModel model, List<int[]> prompts) {
        return run(model, prompts, EngineConfig.defaults().withMaxBatchedTokens(96).withKvCacheBytes(
                KvStore.bytesPerBlock(model.config().nLayers(), model.config().kvDim(), 16, KvStore.Precision.F32) * 256));
    }

    private static List<int[]> run(LanguageModel model, List<int[]> prompts, EngineConfig config) {
        List<int[]> out = new ArrayList<>();
        try (Engine engine = new Engine(model, null, config)) {
            List<CompletableFuture<Completion>> futures = new ArrayList<>();
            for (int r = 0; r < prompts.size(); r++) {
                futures.add(engine.submit(Request.builder(prompts.get(r)).id("r" + r)
                        .params(SamplingParams.greedy(NEW_TOKENS)).build()));
            }
            int maxBatch = 0;
            for (CompletableFuture<Completion> f : futures) {
                Completion c = f.join();
                assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                out.add(c.tokens());
                maxBatch = Math.max(maxBatch, c.maxBatchSize());
            }
            assertTrue(maxBatch >= 8, "requests ran together (max batch " + maxBatch + ")");
        }
        return out;
    }
}
