package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;

/** The job's --device flag reaches the backend choice: validated up front, resolved when the model loads. */
class EngineSpecDeviceTest {

    @Test
    void acceptsEveryDeviceKindAndRejectsOthersNamingTheChoices() {
        String model = "/models/m.gguf";
        for (String device : new String[] {"cpu", "CUDA", "cuda:1", "auto"}) {
            EngineSpec spec = EngineSpec.of(model, "m");
            EngineSpec withDevice = new EngineSpec(spec.modelPath(), spec.modelName(), device, spec.maxBatchedTokens(),
                    spec.maxSequences(), spec.kvCacheBytes(), spec.kvPrecision(), spec.prefixCaching());
            assertEquals(device.toLowerCase(), withDevice.device());
        }
        EngineSpec spec = EngineSpec.of(model, "m");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new EngineSpec(model, "m", "tpu",
                spec.maxBatchedTokens(), spec.maxSequences(), spec.kvCacheBytes(), spec.kvPrecision(), spec.prefixCaching()));
        assertTrue(e.getMessage().contains("tpu") && e.getMessage().contains("cuda"), e.getMessage());
    }

    @Test
    void autoRunsTheModelOnWhatThisMachineHas() {
        String path = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        EngineSpec defaults = EngineSpec.of(path, "stories260K");
        EngineSpec auto = new EngineSpec(path, "stories260K", "auto", defaults.maxBatchedTokens(), defaults.maxSequences(),
                defaults.kvCacheBytes(), defaults.kvPrecision(), defaults.prefixCaching());
        boolean gpu = CudaDevice.probe().available();
        try (LoadedModel loaded = LoadedModel.load(auto)) {
            assertEquals(64, loaded.modelConfig().dim());
            String expected = gpu ? "CUDA backend" : "CPU backend";
            assertTrue(loaded.backend().contains(expected), "expected the " + expected + ": " + loaded.backend());
        }
    }
}
