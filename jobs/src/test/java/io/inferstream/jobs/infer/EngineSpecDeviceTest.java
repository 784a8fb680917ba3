package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.InferenceOptions;
import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.KQuantPolicy;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The job's --device flag reaches the backend choice: validated up front, resolved when the model loads. */
class EngineSpecDeviceTest {

    @Test
    void acceptsEveryDeviceKindAndRejectsOthersNamingTheChoices() {
        String model = "/models/m.gguf";
        for (String device : new String[] {"cpu", "CUDA", "cuda:1", "auto"}) {
            EngineSpec spec = EngineSpec.of(model, "m");
            EngineSpec withDevice = spec.withDevice(device);
            assertEquals(device.toLowerCase(), withDevice.device());
        }
        EngineSpec spec = EngineSpec.of(model, "m");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec.withDevice("tpu"));
        assertTrue(e.getMessage().contains("tpu") && e.getMessage().contains("cuda"), e.getMessage());
    }

    @Test
    void autoRunsTheModelOnWhatThisMachineHas() {
        String path = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        EngineSpec defaults = EngineSpec.of(path, "stories260K");
        EngineSpec auto = defaults.withDevice("auto");
        boolean gpu = CudaDevice.probe().available();
        try (LoadedModel loaded = LoadedModel.load(auto)) {
            assertEquals(64, loaded.modelConfig().dim());
            String expected = gpu ? "CUDA backend" : "CPU backend";
            assertTrue(loaded.backend().contains(expected), "expected the " + expected + ": " + loaded.backend());
            assertTrue(gpu ? loaded.device().startsWith("cuda:0 (") : loaded.device().equals("cpu"), loaded.device());
        }
    }

    @Test
    void theGpuFlagsReachTheCudaOptionsWithTheEnginesStepSize() {
        InferenceOptions options = new InferenceOptions();
        new CommandLine(options).parseArgs("--device", "cuda", "--gpu-memory-fraction", "0.6", "--gpu-kquants", "NATIVE",
                "--max-batched-tokens", "1024");
        EngineSpec spec = options.engineSpec("/models/m.gguf", "m");
        CudaLlamaModel.Options cuda = spec.cudaOptions();
        assertEquals(0.6, cuda.memoryFraction());
        assertEquals(KQuantPolicy.NATIVE, cuda.kQuants());
        assertEquals(1024, cuda.maxBatchTokens()); // the GPU reserves scratch for the engine's largest step
        assertEquals("0.6", options.settings().get("gpu-memory-fraction"));
        assertEquals("NATIVE", options.settings().get("gpu-kquants"));
        assertEquals(spec.cudaOptions(), spec.withDevice("auto").withLimits(1024, 8, 1 << 20).cudaOptions());

        EngineSpec defaults = EngineSpec.of("/models/m.gguf", "m");
        assertEquals(CudaLlamaModel.Options.defaults().withMaxBatchTokens(defaults.maxBatchedTokens()), defaults.cudaOptions());
    }

    @Test
    void quantizeReachesTheCpuModelAndABadTypeIsRefusedWhenTheJobIsBuilt() {
        String path = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        InferenceOptions options = new InferenceOptions();
        new CommandLine(options).parseArgs("--quantize", "Q8_0");
        EngineSpec spec = options.engineSpec(path, "stories260K");
        assertEquals("q8_0", spec.quantize());
        assertEquals("Q8_0", options.settings().get("quantize"));
        io.inferstream.runtime.model.LanguageModel[] engineModel = new io.inferstream.runtime.model.LanguageModel[1];
        try (LoadedModel loaded = LoadedModel.load(spec, io.inferstream.runtime.backend.DevicePlacement.FIRST, m -> engineModel[0] = m)) {
            // stories260K.gguf is F32: its matrices are re-encoded but for the feed-forward's down projection, whose 172
            // columns are not whole blocks of 32
            var weights = ((io.inferstream.runtime.model.LlamaModel) engineModel[0]).weights();
            assertEquals(io.inferstream.runtime.gguf.GgmlType.Q8_0, weights.wq()[4].type());
            assertEquals(io.inferstream.runtime.gguf.GgmlType.F32, weights.down()[4].type());
            assertEquals(64, loaded.modelConfig().dim());
        }
        assertEquals(null, EngineSpec.of(path, "m").quantizeType(), "none by default: weights as stored");

        new CommandLine(options).parseArgs("--quantize", "q3_k");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options.engineSpec(path, "m"));
        assertTrue(e.getMessage().contains("--quantize q3_k") && e.getMessage().contains("q8_0"), e.getMessage());
    }

    @Test
    void aGpuMemoryFractionOutsideZeroToOneIsRefusedWhenTheJobIsBuilt() {
        InferenceOptions options = new InferenceOptions();
        new CommandLine(options).parseArgs("--gpu-memory-fraction", "0");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> options.engineSpec("/models/m.gguf", "m"));
        assertTrue(e.getMessage().contains("GPU memory fraction"), e.getMessage());
    }
}
