package io.inferstream.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.model.BlockOptions;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.SlidingWindow;

/** --device parsing and how each value resolves with and without a CUDA device. */
class DeviceOptionTest {

    private static final CudaDevice.Probe NONE = new CudaDevice.Probe(false, 0, "cuInit failed: CUDA_ERROR_NO_DEVICE");
    private static final CudaDevice.Probe TWO = new CudaDevice.Probe(true, 2, "2 CUDA device(s)");

    @Test
    void parsesCpuCudaCudaNAndAuto() {
        assertEquals(DeviceOption.CPU, DeviceOption.parse("cpu"));
        assertEquals(DeviceOption.AUTO, DeviceOption.parse(" AUTO "));
        assertEquals(new DeviceOption(DeviceOption.Kind.CUDA, DeviceOption.ANY), DeviceOption.parse("cuda"));
        assertEquals("cuda", DeviceOption.parse("gpu").toString());
        assertEquals(new DeviceOption(DeviceOption.Kind.CUDA, 3), DeviceOption.parse("cuda:3"));
        assertEquals(new DeviceOption(DeviceOption.Kind.CUDA, 0), DeviceOption.parse("cuda:0"));
        assertEquals("cuda:3", DeviceOption.parse("cuda:3").toString());
        assertTrue(DeviceOption.parse("cuda").placed() && DeviceOption.AUTO.placed());
        assertFalse(DeviceOption.parse("cuda:0").placed() || DeviceOption.CPU.placed());
    }

    /**
     * cuda and auto name no device: a placement picks it (cuda:0 for a single-engine program), and the line says which
     * and why; cuda:N is never placed elsewhere, and a placement outside the machine's devices is refused.
     */
    @Test
    void cudaAndAutoTakeThePlacementsDeviceCudaNKeepsItsOwn() {
        BackendChoice first = BackendChoice.resolve(DeviceOption.parse("cuda"), TWO);
        assertEquals(0, first.ordinal());
        assertEquals("--device cuda: using the CUDA backend on cuda:0", first.reason());
        DevicePlacement second = count -> new DevicePlacement.Placed(count - 1, "the last of " + count);
        BackendChoice cuda = BackendChoice.resolve(DeviceOption.parse("cuda"), TWO, second);
        assertTrue(cuda.cuda());
        assertEquals(1, cuda.ordinal());
        assertEquals("--device cuda: using the CUDA backend on cuda:1 (the last of 2)", cuda.reason());
        BackendChoice auto = BackendChoice.resolve(DeviceOption.AUTO, TWO, second);
        assertEquals(1, auto.ordinal());
        assertEquals("--device auto: 2 CUDA device(s); using the CUDA backend on cuda:1 (the last of 2)", auto.reason());
        assertEquals(0, BackendChoice.resolve(DeviceOption.parse("cuda:0"), TWO, second).ordinal(), "cuda:N is pinned");
        assertFalse(BackendChoice.resolve(DeviceOption.AUTO, NONE, second).cuda());
        IllegalStateException outside = assertThrows(IllegalStateException.class,
                () -> BackendChoice.resolve(DeviceOption.AUTO, TWO, count -> new DevicePlacement.Placed(2, "too far")));
        assertTrue(outside.getMessage().contains("cuda:0 .. cuda:1 (too far)"), outside.getMessage());
    }

    @Test
    void rejectsMalformedValuesNamingTheChoices() {
        for (String bad : new String[] {"", "tpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cpu0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceOption.parse(bad), bad);
            assertTrue(e.getMessage().contains("cpu, cuda, cuda:N"), e.getMessage());
        }
    }

    @Test
    void autoUsesTheGpuWhenPresentElseTheCpuAndSaysWhy() {
        BackendChoice gpu = BackendChoice.resolve(DeviceOption.AUTO, TWO);
        assertTrue(gpu.cuda());
        assertEquals(0, gpu.ordinal());
        assertTrue(gpu.reason().contains("CUDA backend"), gpu.reason());
        BackendChoice cpu = BackendChoice.resolve(DeviceOption.AUTO, NONE);
        assertFalse(cpu.cuda());
        assertTrue(cpu.reason().contains("CUDA_ERROR_NO_DEVICE") && cpu.reason().contains("CPU backend"), cpu.reason());
    }

    @Test
    void autoFallsBackToTheCpuForAModelTheCudaBackendDoesNotRunAndCudaKeepsTheGpu() {
        ModelConfig llama = new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 10000f, false, null);
        // Gemma 2: soft caps on the attention scores and the logits
        ModelConfig gemma2 = new ModelConfig("gemma2", 64, 96, 2, 4, 2, 16, 300, 256, 1e-6f, 10000f, true, null, 16, 1f, 1f,
                new BlockOptions(8f, true, true, 0f, 50f, 30f, new SlidingWindow(512, 2, 10000f)));
        // Mixtral: a mixture of experts, which the CUDA backend runs; one with experts 100 wide, which its kernels do not
        ModelConfig mixtral = new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 1e6f, false, null, 16, 1f, 1f,
                io.inferstream.runtime.model.BlockOptions.LLAMA.withExperts(
                        new io.inferstream.runtime.model.Experts(8, 2, 96, true, 1f, 0)));
        ModelConfig oddExperts = new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 1e6f, false, null, 16, 1f, 1f,
                io.inferstream.runtime.model.BlockOptions.LLAMA.withExperts(
                        new io.inferstream.runtime.model.Experts(8, 2, 100, true, 1f, 0)));
        // Gemma 3 (4B and up): GeGLU, post-norms, QK-norm, five sliding layers in six with their own RoPE base, the
        // global layers' linear factor
        ModelConfig gemma3 = new ModelConfig("gemma3", 64, 96, 2, 4, 2, 16, 300, 256, 1e-6f, 1e6f, true, null, 16, 1f, 8f,
                new BlockOptions(8f, true, true, 0f, 0f, 0f, new SlidingWindow(512, 6, 10000f)));
        BackendChoice auto = BackendChoice.resolve(DeviceOption.AUTO, TWO);
        assertTrue(auto.forModel(DeviceOption.AUTO, llama).cuda());
        assertTrue(auto.forModel(DeviceOption.AUTO, gemma3).cuda());
        assertTrue(auto.forModel(DeviceOption.AUTO, gemma2).cuda());
        assertTrue(auto.forModel(DeviceOption.AUTO, mixtral).cuda());
        BackendChoice cpu = auto.forModel(DeviceOption.AUTO, oddExperts);
        assertFalse(cpu.cuda());
        assertTrue(cpu.reason().contains("experts of 100 x 64") && cpu.reason().endsWith("using the CPU backend"), cpu.reason());
        ModelConfig manyExperts = new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 1e6f, false, null, 16, 1f, 1f,
                io.inferstream.runtime.model.BlockOptions.LLAMA.withExperts(
                        new io.inferstream.runtime.model.Experts(1025, 8, 96, true, 1f, 0)));
        BackendChoice tooMany = auto.forModel(DeviceOption.AUTO, manyExperts);
        assertFalse(tooMany.cuda(), "1025 experts: more than moe_group's shared counters");
        assertTrue(tooMany.reason().contains("1025 experts"), tooMany.reason());
        assertTrue(auto.forModel(DeviceOption.AUTO, new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 1e6f, false,
                null, 16, 1f, 1f, io.inferstream.runtime.model.BlockOptions.LLAMA.withExperts(
                        new io.inferstream.runtime.model.Experts(1024, 8, 96, true, 1f, 0)))).cuda(), "1024 experts");
        BackendChoice cuda = BackendChoice.resolve(DeviceOption.parse("cuda"), TWO);
        assertTrue(cuda.forModel(DeviceOption.parse("cuda"), oddExperts).cuda(), "an explicit cuda fails at load, naming --device cpu");
        BackendChoice none = BackendChoice.resolve(DeviceOption.AUTO, NONE);
        assertEquals(none, none.forModel(DeviceOption.AUTO, oddExperts));
        // Phi-3.5-mini (LongRoPE, a window of 262144 over at most 131072 positions), Phi-3-mini-4k (a window of 2047 in
        // 4096 positions) and Phi-4-mini (RoPE over 96 of 128 dimensions) run on the GPU
        assertTrue(auto.forModel(DeviceOption.AUTO, phi3(131072, 262144, 128)).cuda());
        assertTrue(auto.forModel(DeviceOption.AUTO, phi3(4096, 2047, 128)).cuda());
        assertTrue(auto.forModel(DeviceOption.AUTO, phi3(131072, 262144, 96)).cuda());
        assertEquals(1f / (float) Math.sqrt(128), phi3(131072, 262144, 128).qkScale(), 1e-6f,
                "1/sqrt(128): LongRoPE's magnitude is on cos and sin");
    }

    private static ModelConfig phi3(int context, int window, int ropeDim) {
        return new ModelConfig("phi3", 256, 512, 2, 2, 2, 128, 300, context, 1e-5f, 10000f, true, null, ropeDim, 1.19f, 1f,
                new BlockOptions(1f, false, false, 0f, 0f, 0f, new SlidingWindow(window, 0, 10000f)));
    }

    @Test
    void explicitCudaFailsClearlyWithoutADeviceOrWithABadOrdinal() {
        IllegalStateException none = assertThrows(IllegalStateException.class,
                () -> BackendChoice.resolve(DeviceOption.parse("cuda"), NONE));
        assertTrue(none.getMessage().contains("no CUDA device") && none.getMessage().contains("CUDA_ERROR_NO_DEVICE"));
        IllegalStateException ordinal = assertThrows(IllegalStateException.class,
                () -> BackendChoice.resolve(DeviceOption.parse("cuda:2"), TWO));
        assertTrue(ordinal.getMessage().contains("cuda:0 .. cuda:1"), ordinal.getMessage());
        assertEquals(1, BackendChoice.resolve(DeviceOption.parse("cuda:1"), TWO).ordinal());
        assertFalse(BackendChoice.resolve(DeviceOption.CPU, TWO).cuda());
    }

    /**
     * JCuda's error when another class loader of the JVM holds its native library (its text as JCuda 12.6 wrote it in
     * a second job on a Flink session cluster's TaskManager): the reason names the cause, the remedy the cluster
     * setting, for --device cuda and for auto's fallback to the CPU; other loading failures keep the usual remedy.
     */
    @Test
    void jcudaLoadedByAnotherClassLoaderNamesTheClusterFix() {
        UnsatisfiedLinkError conflict = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\n"
                + "Operating system name: Linux\n---(start of nested stack traces)---\n"
                + "Stack trace from the attempt to load the library as a resource:\n"
                + "java.lang.UnsatisfiedLinkError: Native Library /tmp/libJCudaDriver-12.6.0-linux-x86_64.so already loaded in "
                + "another classloader\n---(end of nested stack traces)---");
        CudaDevice.Probe p = CudaDevice.linkageFailure(conflict);
        assertFalse(p.available());
        assertTrue(p.reason().contains("already loaded by another class loader"), p.reason());
        IllegalStateException cuda = assertThrows(IllegalStateException.class, () -> BackendChoice.resolve(DeviceOption.parse("cuda"), p));
        assertTrue(cuda.getMessage().contains("classloader.parent-first-patterns.additional: jcuda."), cuda.getMessage());
        assertFalse(cuda.getMessage().contains("use --device cpu"), cuda.getMessage());
        BackendChoice auto = BackendChoice.resolve(DeviceOption.AUTO, p);
        assertFalse(auto.cuda());
        assertTrue(auto.reason().contains("CPU backend; for the GPU: put the jcuda"), auto.reason());

        CudaDevice.Probe missing = CudaDevice.linkageFailure(new UnsatisfiedLinkError("Error while loading native library\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver.so: libcuda.so.1: cannot open shared object file"));
        assertEquals("the JCuda driver library could not be loaded: /tmp/libJCudaDriver.so: libcuda.so.1: cannot open shared object file",
                missing.reason());
        assertEquals(CudaDevice.Probe.OTHER_BACKENDS, missing.remedy());
        assertTrue(BackendChoice.resolve(DeviceOption.AUTO, NONE).reason().endsWith("using the CPU backend"));
    }

    /**
     * On a session cluster JCuda sits on the TaskManager's class path: when its driver library fails to load, the
     * class stays uninitialised for the JVM's life and the next job's probe (another class loader) gets only "Could not
     * initialize class". The first failure's reason must still be the one said, as on the first attempt.
     */
    @Test
    void aLaterClassLoaderKeepsTheFirstLoadingFailuresReason() {
        String property = "inferstream.cuda.linkageFailure";
        String saved = System.getProperty(property);
        System.clearProperty(property);
        try {
            CudaDevice.Probe first = CudaDevice.linkageFailure(new UnsatisfiedLinkError(
                    "/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file"));
            CudaDevice.Probe later = CudaDevice.linkageFailure(
                    new NoClassDefFoundError("Could not initialize class jcuda.driver.JCudaDriver"));
            assertEquals("the JCuda driver library could not be loaded: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: "
                    + "libcuda.so.1: cannot open shared object file (when this JVM first loaded it; now: Could not "
                    + "initialize class jcuda.driver.JCudaDriver)", later.reason());
            assertTrue(first.reason().endsWith("cannot open shared object file"), first.reason());
        } finally {
            if (saved == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, saved);
            }
        }
    }

    @Test
    void probingWithoutAGpuReportsAReasonInsteadOfThrowing() {
        CudaDevice.Probe p = CudaDevice.probe();
        // On any machine: a consistent answer; on a machine without a driver, a cause to print.
        if (!p.available()) {
            assertFalse(p.reason().isBlank());
            assertEquals(0, p.deviceCount());
        } else {
            assertTrue(p.deviceCount() > 0);
        }
    }
}
