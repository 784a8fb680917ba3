package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A GPU whose context takes a sticky error (an MMU fault, a trap, an uncorrectable ECC error: every later call fails)
 * fails the engine as a whole, with the reason; a model loaded on the same device afterwards works, though the failed
 * one has not been closed yet (its context is reset), and closing the failed one throws nothing. The fault is the
 * emulated driver's ({@code INFERSTREAM_EMULATED_FAULT_FILE}: the first launch after the file appears fails as an
 * illegal address); EmulatedDeviceTest runs this class in a JVM of its own, since the reset ends every other
 * CUDA object of the process on that device.
 */
class DeviceLossGpuTest {

    private static final int[] PROMPT = {1, 403, 407, 261};

    @Test
    void aLostContextFailsTheEngineAndTheNextModelOnTheDeviceRuns() throws IOException {
        String faultFile = System.getenv("INFERSTREAM_EMULATED_FAULT_FILE");
        if (faultFile == null || faultFile.isBlank() || !CudaDevice.probe().available()) {
            String reason = "needs the emulated CUDA driver's fault injection (INFERSTREAM_EMULATED_FAULT_FILE); "
                    + "EmulatedDeviceTest runs it in a JVM of its own";
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        Path fault = Path.of(faultFile);
        EngineConfig config = EngineConfig.defaults().withMaxSequences(4);
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            LanguageModel first = Backends.load(gguf, DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
            System.out.println("GPU tests on " + ((DeviceOwningModel) first).device());
            Engine engine = new Engine(first, null, config);
            int[] reference = greedy(engine).tokens();

            Files.writeString(fault, "lose the device at the next launch");
            Completion failed = greedy(engine);
            assertEquals(FinishReason.ERROR, failed.finishReason());
            assertTrue(failed.message().startsWith("engine failed: model forward failed")
                    && failed.message().contains("was lost") && failed.message().contains("CUDA_ERROR_ILLEGAL_ADDRESS"),
                    failed.message());
            assertTrue(engine.failure().isPresent());
            assertTrue(first.unusable().isPresent());
            assertTrue(Files.notExists(fault), "the fault was taken");

            // The failed model is still open (a Flink task that has not closed yet): the next one resets the context.
            try (LanguageModel second = Backends.load(gguf, DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
                 Engine again = new Engine(second, null, config)) {
                assertArrayEquals(reference, greedy(again).tokens(), "the next model on the device generates the same tokens");
                assertTrue(first.unusable().get().contains("reset"), first.unusable().get());
                engine.shutdownNow();
                assertDoesNotThrow(first::close, "closing the failed model");
                assertArrayEquals(reference, greedy(again).tokens(), "and closing the failed one does not touch it");
            }
            // Every model closed: the driver destroyed the context; a new one starts clean.
            try (LanguageModel third = Backends.load(gguf, DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
                 Engine last = new Engine(third, null, config)) {
                assertArrayEquals(reference, greedy(last).tokens());
            }
        }
    }

    private static Completion greedy(Engine engine) {
        return engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(16)).build()).join();
    }
}
