package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.checkpoint.GgufCheckpoint;
import io.inferstream.runtime.cuda.CudaDevice;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Two engines of one JVM on two GPUs, as a TaskManager with several spreads its engines ({@code --device cuda} placed
 * on each): every device call of a model must go to its own device's context, from whichever thread makes it (each
 * engine steps on a thread of its own; loads, KV pools and closes come from others). Needs two CUDA devices: the
 * emulated driver gives two (EmulatedDeviceTest), a one-GPU machine skips it with the reason. On the emulated driver a
 * launch with another device's function, stream or memory fails, as it does on GPUs without peer access.
 */
class SeveralDevicesGpuTest {

    private static final int[] PROMPT = {1, 403, 407, 261};

    private static void requireTwo() {
        CudaTestDevice.require(); // skips without a GPU, with the reason
        int count = CudaDevice.probe().deviceCount();
        if (count < 2) {
            String reason = "needs two CUDA devices, this machine has " + count + " (the emulated driver gives two)";
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
    }

    @Test
    void enginesOnTwoDevicesGenerateTheCpuTokensAtOnceEachInItsOwnMemory() throws Exception {
        requireTwo();
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            int[] expected;
            try (LanguageModel cpu = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CPU, null).model()) {
                expected = BackendsGpuTest.greedy(cpu, EngineConfig.defaults());
            }
            int openBefore = CudaDevice.openInThisJvm(1);
            Backends.Loaded first = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CUDA, CudaLlamaModel.Options.defaults());
            try (LanguageModel zero = first.model()) {
                CudaDevice deviceZero = ((DeviceOwningModel) zero).device();
                long zeroFree = deviceZero.memoryInfo()[0];
                Backends.Loaded second = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.AUTO, CudaLlamaModel.Options.defaults(),
                        count -> new DevicePlacement.Placed(count - 1, "the last"));
                try (LanguageModel one = second.model()) {
                    assertTrue(first.device().startsWith("cuda:0 ("), first.device());
                    assertTrue(second.device().startsWith("cuda:1 ("), second.device());
                    assertTrue(second.choice().reason().endsWith("using the CUDA backend on cuda:1 (the last)"), second.choice().reason());
                    assertEquals(openBefore + 1, CudaDevice.openInThisJvm(1), "cuda:1 counted open in this JVM");
                    assertEquals(zeroFree, deviceZero.memoryInfo()[0], "cuda:1's model took nothing of cuda:0's memory");
                    CudaDevice deviceOne = ((DeviceOwningModel) one).device();
                    long[] oneInfo = deviceOne.memoryInfo();
                    assertTrue(oneInfo[1] - oneInfo[0] >= ((DeviceOwningModel) one).cudaModel().memoryPlan().weightBytes(),
                            "cuda:1 holds its model's weights: " + second.deviceMemory().orElse(""));

                    stepAtOnce(zero, one, expected);
                }
                assertEquals(openBefore, CudaDevice.openInThisJvm(1), "closed: no longer counted");
                assertTrue(zero.unusable().isEmpty(), "cuda:0's model still usable after cuda:1's closed: " + zero.unusable());
            }
        }
    }

    /**
     * Two engines of one JVM on one device (two jobs' engines on a TaskManager's one GPU) step at once: they share the
     * device's primary context, so one's work must not break the other's CUDA graph captures, nor theirs its steps.
     */
    @Test
    void twoEnginesOnOneDeviceStepAtOnce() throws Exception {
        CudaTestDevice.require();
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            int[] expected;
            try (LanguageModel cpu = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CPU, null).model()) {
                expected = BackendsGpuTest.greedy(cpu, EngineConfig.defaults());
            }
            try (LanguageModel a = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CUDA, CudaLlamaModel.Options.defaults().withMemoryFraction(0.4)).model();
                 LanguageModel b = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CUDA, CudaLlamaModel.Options.defaults().withMemoryFraction(0.4)).model()) {
                stepAtOnce(a, b, expected);
            }
        }
    }

    /**
     * A job cancelled beside another on one device gives its KV cache back when its engine closes: the other's model
     * keeps the device's context alive, so the context's end does not free it, and the store would otherwise wait for a
     * garbage collection. The job restarted there must find the device as it found it the first time.
     */
    @Test
    void aClosedEnginesKvCacheIsFreedAtOnceBesideAnotherModel() {
        CudaTestDevice.require();
        CudaLlamaModel.Options share = CudaLlamaModel.Options.defaults().withMemoryFraction(0.3);
        EngineConfig auto = EngineConfig.defaults().withKvCacheBytes(EngineConfig.AUTO_KV_CACHE);
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel other = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CUDA, share).model()) {
            long[] freeAtLoad = new long[2];
            for (int run = 0; run < 2; run++) {
                try (LanguageModel model = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.CUDA, share).model()) {
                    CudaLlamaModel cuda = ((DeviceOwningModel) model).cudaModel();
                    freeAtLoad[run] = cuda.memoryPlan().deviceFree();
                    long withoutEngine = cuda.device().memoryInfo()[0];
                    Engine engine = new Engine(model, null, auto);
                    try {
                        assertTrue(cuda.device().memoryInfo()[0] < withoutEngine, "the engine's KV cache is on the device");
                        Completion c = submit(engine).join();
                        assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                    } finally {
                        engine.close(); // the engine stays reachable: only its close can free the store now
                    }
                    assertEquals(withoutEngine, cuda.device().memoryInfo()[0], "free device memory once the engine closed");
                }
            }
            assertEquals(freeAtLoad[0], freeAtLoad[1], "free device memory at the second load, beside the other model");
            assertTrue(other.unusable().isEmpty(), String.valueOf(other.unusable()));
        }
    }

    /** An engine on each model, stepping at once on threads of their own, three requests each: all give {@code expected}. */
    private static void stepAtOnce(LanguageModel a, LanguageModel b, int[] expected) {
        List<CompletableFuture<Completion>> runs = new ArrayList<>();
        try (Engine ea = new Engine(a, null, EngineConfig.defaults()); Engine eb = new Engine(b, null, EngineConfig.defaults())) {
            for (int i = 0; i < 3; i++) {
                runs.add(submit(ea));
                runs.add(submit(eb));
            }
            for (CompletableFuture<Completion> run : runs) {
                Completion c = run.join();
                assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                assertArrayEquals(expected, c.tokens(), "greedy tokens of both engines, against the CPU");
            }
        }
        assertTrue(a.unusable().isEmpty() && b.unusable().isEmpty(), a.unusable() + " " + b.unusable());
    }

    private static CompletableFuture<Completion> submit(Engine engine) {
        return engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(24)).build());
    }
}
