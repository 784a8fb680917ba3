package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.checkpoint.GgufCheckpoint;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.CudaTestDevice;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;

/**
 * What {@code --device cuda} gives the jobs and the CLI ({@link Backends#load}) is GPU-resident like the CUDA model
 * itself: the engine asks it for the device's logit candidates (only those cross the bus), sizes an auto KV cache
 * from its memory plan, and generates the CPU engine's greedy tokens.
 */
class BackendsGpuTest {

    private static final int[] PROMPT = {1, 403, 407, 261};

    @Test
    void theModelForDeviceCudaKeepsItsLogitsOnTheDevice() {
        CudaTestDevice.require(); // skips without a GPU, with the reason
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            Backends.Loaded loaded = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults());
            try (LanguageModel gpu = loaded.model(); LanguageModel cpu = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CPU, null).model()) {
                assertTrue(loaded.choice().cuda(), loaded.choice().reason());
                // what the jobs' engine.device gauge says
                assertEquals(((DeviceOwningModel) gpu).device().toString(), loaded.device());
                assertTrue(loaded.device().matches("cuda:0 \\(.+, compute \\d+\\.\\d+\\)"), loaded.device());
                assertTrue(gpu.logitsOnDevice(), "logits on the device");
                assertTrue(EngineConfig.defaults().logitCandidates().use(gpu), "the engine asks for the device's candidates");
                CudaLlamaModel inner = ((DeviceOwningModel) gpu).cudaModel();
                assertEquals(inner.kernelChoices(), loaded.kernelChoices(), "the load-time kernel choices, for the log");
                assertEquals(inner.kvCacheBudget(), gpu.kvCacheBudget(), "the memory plan's KV budget");
                assertTrue(gpu.kvCacheBudget().isPresent());
                assertTrue(gpu.unusable().isEmpty(), String.valueOf(gpu.unusable()));
                EngineConfig auto = EngineConfig.defaults().withKvCacheBytes(EngineConfig.AUTO_KV_CACHE).withMaxSequences(8);
                assertArrayEquals(greedy(cpu, EngineConfig.defaults()), greedy(gpu, auto), "greedy tokens, GPU against CPU");
            }
        }
    }

    static int[] greedy(LanguageModel model, EngineConfig config) {
        try (Engine engine = new Engine(model, null, config)) {
            Completion c = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(24)).build()).join();
            assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
            return c.tokens();
        }
    }
}
