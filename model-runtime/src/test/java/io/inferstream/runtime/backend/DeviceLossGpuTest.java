package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.checkpoint.GgufCheckpoint;
import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.DeviceBuffer;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import jcuda.CudaException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A GPU whose context takes a sticky error (an MMU fault, a trap, an uncorrectable ECC error: every later call fails)
 * fails the engine as a whole, with the reason; the context is reset by the next open of the device, here in another
 * class loader (as a second Flink job on the TaskManager would), which the failed model's device sees; a model loaded
 * on the same device afterwards works, though the failed one has not been closed yet, and closing the failed one
 * throws nothing and frees nothing of the new context. Runs in a JVM of its
 * own, since the reset ends every other CUDA object of the process on that device, and only when asked:
 * <ul>
 * <li>on the emulated driver ({@code INFERSTREAM_EMULATED_FAULT_FILE}, set by EmulatedDeviceTest): the first launch
 * after the file appears fails as an illegal address, inside the engine's step;</li>
 * <li>on a GPU ({@code INFERSTREAM_DEVICE_LOSS_TEST=1}, set by deploy/gpu/check.sh's device-loss stage): an embedding
 * gather of a token a thousand million rows past its table, an MMU fault (the emulator cannot run that one: its loads
 * are the host's).</li>
 * </ul>
 */
class DeviceLossGpuTest {

    private static final int[] PROMPT = {1, 403, 407, 261};

    @Test
    void aLostContextFailsTheEngineAndTheNextModelOnTheDeviceRuns() throws Exception {
        String faultFile = System.getenv("INFERSTREAM_EMULATED_FAULT_FILE");
        boolean emulated = faultFile != null && !faultFile.isBlank();
        boolean real = "1".equals(System.getenv("INFERSTREAM_DEVICE_LOSS_TEST"));
        if (!(emulated || real) || !CudaDevice.probe().available()) {
            String reason = "loses the device on purpose, so only in a JVM of its own: INFERSTREAM_EMULATED_FAULT_FILE "
                    + "(EmulatedDeviceTest) or INFERSTREAM_DEVICE_LOSS_TEST=1 on a GPU (deploy/gpu/check.sh)";
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        EngineConfig config = EngineConfig.defaults().withMaxSequences(4);
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            LanguageModel first = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
            System.out.println("GPU tests on " + ((DeviceOwningModel) first).device());
            Engine engine = new Engine(first, null, config);
            int[] reference = greedy(engine).tokens();

            if (emulated) {
                Files.writeString(Path.of(faultFile), "lose the device at the next launch");
            } else {
                readFarPastAnAllocation(((DeviceOwningModel) first).device());
            }
            Completion failed = greedy(engine);
            assertEquals(FinishReason.ERROR, failed.finishReason());
            assertTrue(failed.message().startsWith("engine failed: model forward failed")
                    && failed.message().contains("was lost") && failed.message().contains("CUDA_ERROR_ILLEGAL_ADDRESS"),
                    failed.message());
            assertTrue(engine.failure().isPresent());
            assertTrue(first.unusable().isPresent());
            assertTrue(!emulated || Files.notExists(Path.of(faultFile)), "the fault was taken");

            // The failed model is still open (a Flink task that has not closed yet). Another job's device, opened in a
            // class loader of its own as Flink loads each job, resets the context; this one's device sees it.
            try (AutoCloseable otherJobs = openInAnotherClassLoader()) {
                assertTrue(first.unusable().map(why -> why.contains("reset")).orElse(false),
                        "the failed model's device sees the reset: " + first.unusable());
                // the next model on the device, in this class loader, finds the context healthy
                try (LanguageModel second = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
                     Engine again = new Engine(second, null, config)) {
                    assertArrayEquals(reference, greedy(again).tokens(), "the next model on the device generates the same tokens");
                    engine.shutdownNow();
                    assertDoesNotThrow(first::close, "closing the failed model");
                    assertArrayEquals(reference, greedy(again).tokens(), "and closing the failed one does not touch it");
                }
            }
            // Every model closed: the driver destroyed the context; a new one starts clean.
            try (LanguageModel third = Backends.load(GgufCheckpoint.of(gguf), DeviceOption.parse("cuda"), CudaLlamaModel.Options.defaults()).model();
                 Engine last = new Engine(third, null, config)) {
                assertArrayEquals(reference, greedy(last).tokens());
            }
        }
    }

    /**
     * {@code CudaDevice.open(0)} in a class loader that loads this project's classes anew and the rest (JCuda) from
     * this one, as a Flink TaskManager loads a second job with JCuda parent-first; returns its device as a closeable.
     */
    private static AutoCloseable openInAnotherClassLoader() throws Exception {
        URL classes = CudaDevice.class.getProtectionDomain().getCodeSource().getLocation();
        ClassLoader parent = DeviceLossGpuTest.class.getClassLoader();
        URLClassLoader job = new URLClassLoader(new URL[] {classes}, parent) {
            @Override
            protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                if (!name.startsWith("io.inferstream.")) {
                    return super.loadClass(name, resolve);
                }
                synchronized (getClassLoadingLock(name)) {
                    Class<?> c = findLoadedClass(name);
                    return c != null ? c : findClass(name);
                }
            }
        };
        Class<?> device = job.loadClass(CudaDevice.class.getName());
        assertTrue(device != CudaDevice.class, "loaded anew");
        Object opened = device.getMethod("open", int.class).invoke(null, 0);
        return () -> {
            device.getMethod("close").invoke(opened);
            job.close();
        };
    }

    /** An MMU fault on a GPU: token 10^9 of a 64-float table, read 256 GB past it. Its buffers go with the context. */
    private static void readFarPastAnAllocation(CudaDevice device) {
        device.makeCurrent();
        DeviceBuffer table = DeviceBuffer.allocate(64 * 4, "a small table");
        DeviceBuffer token = DeviceBuffer.allocate(4, "a token far past it");
        DeviceBuffer out = DeviceBuffer.allocate(64 * 4, "its row");
        token.upload(new int[] {1_000_000_000}, 1);
        device.kernels().launch("embed_f32", 1, 1, 256, 0, table, null, token, out, 64);
        CudaException e = assertThrows(CudaException.class, device::synchronize, "the gather faults");
        assertTrue(e.getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), e.getMessage());
    }

    private static Completion greedy(Engine engine) {
        return engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(16)).build()).join();
    }
}
