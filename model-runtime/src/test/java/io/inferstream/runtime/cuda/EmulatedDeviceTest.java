package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.inferstream.runtime.testing.EmulatedDriver;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The engine's GPU code path, unchanged, on this machine's CPU. {@code src/main/cuda/emulate.sh libcuda} builds an
 * emulated CUDA driver (emulate/driver.cpp: a libcuda.so.1 over host memory whose kernels are the shipped PTX
 * modules' entries, compiled for the host and run by cuda_shim.h's fibers); a JVM started with it on
 * LD_LIBRARY_PATH runs GPU test classes through JCuda exactly as a GPU machine does, with
 * INFERSTREAM_REQUIRE_GPU=1, so a test can only pass by running. What it proves: the host side of the GPU backend
 * (which kernel, which buffers and offsets, in which order, captured into CUDA graphs, launched programmatically)
 * gives the CPU model's logits and tokens. What it cannot: timing, and the hardware's own rounding (the kernels'
 * floats are the host's), so the bounds are the GPU tests' own. The driver fails a launch that reaches inline PTX
 * it cannot run, reads outside every allocation, or (launched programmatically) reads its predecessor's output
 * before waiting.
 *
 * <p>Every load-time kernel choice is forced (its timing trial would run for minutes here), to the newest kernels
 * where the test does not set its own: each row of the whole-model test forces its kernels after loading. Run on
 * compute capability 9.0 (warpgroup MMAs, programmatic launches; there also the engine's continuous batching, the CLI
 * with {@code --device cuda}, the attention kernels against float64, memory planning and stories260K) and 8.0, each in
 * an order of blocks and threads of its own (shuffled on 9.0, reversed on 8.0, forward for the trials; shared memory
 * starts every block as NaN): a kernel with a race between its threads or blocks gives other logits in one of them.
 * The 9.0 run has two emulated devices, whose contexts the driver keeps apart (SeveralDevicesGpuTest: engines on both
 * at once, and two on one).
 * Skipped, with the reason printed, where g++ or ucontext is missing.
 */
class EmulatedDeviceTest {

    private static final String MODEL_TEST = "io.inferstream.runtime.model.CudaLlamaModelGpuTest";

    @TempDir
    static Path dir;
    private static Path driver;

    @BeforeAll
    static void buildTheDriver() throws IOException, InterruptedException {
        // tests run from the model-runtime folder
        driver = EmulatedDriver.build(Path.of("src/main/cuda/emulate.sh").toAbsolutePath(), dir.resolve("driver"));
    }

    @ParameterizedTest(name = "compute capability {0}")
    @ValueSource(strings = {"9.0", "8.0"})
    void gpuTestsPassOnTheEmulatedDriver(String computeCapability) throws IOException, InterruptedException {
        List<String> selectors = new ArrayList<>(List.of(
                "method:" + MODEL_TEST + "#mixedBatchLogitsMatchTheCpuModel",
                "method:" + MODEL_TEST + "#greedyStepsReplayedAsCudaGraphsEqualEagerSteps",
                "method:" + MODEL_TEST + "#deviceGreedyEqualsTheArgmaxOfTheLogitsAndCopiedBlocksMatch",
                "method:" + MODEL_TEST + "#kQuantWeightsKeptQuantizedGiveTheCpuLogits",
                "method:" + MODEL_TEST + "#fusedEpiloguesGiveTheLogitsOfTheSeparateKernels",
                "method:" + MODEL_TEST + "#aHuggingFaceFolderOnTheDeviceGivesTheCpuLogits",
                "method:" + MODEL_TEST + "#aQwen3ModelWithQkNormOnTheDeviceGivesTheCpuLogits",
                "method:" + MODEL_TEST + "#aPhi3ModelOnTheDeviceGivesTheCpuLogitsWithEitherFactors",
                "method:" + MODEL_TEST + "#aPhi4MiniModelTurnsPartOfEachHeadOnTheDevice",
                "method:" + MODEL_TEST + "#gemmaModelsOnTheDeviceGiveTheCpuLogits",
                "method:" + MODEL_TEST + "#aGraniteModelOnTheDeviceGivesTheCpuLogits",
                "method:" + MODEL_TEST + "#mixturesOfExpertsOnTheDeviceGiveTheCpuLogits",
                "method:io.inferstream.runtime.cuda.DeviceKernelsGpuTest#programmaticLaunchesKeepEachKernelAfterItsPredecessor"));
        String stories = "stories260K/stories260K.gguf";
        int atLeast = 61; // tests that must pass (and none may skip): a floor against selectors that match nothing
        if (computeCapability.startsWith("9")) { // once (the newest kernels: 9.x's): attention, memory planning
            selectors.addAll(List.of("class:io.inferstream.runtime.cuda.SplitAttentionGpuTest", // against float64
                    "class:io.inferstream.runtime.cuda.TiledAttentionGpuTest", "class:io.inferstream.runtime.cuda.MemoryPlanTest",
                    "method:" + MODEL_TEST + "#twoModelsAtOneFractionGetTheSameShareOfTheDevice"));
            atLeast = 112;
            // and what runs stories260K: the engine, the CLI, the device option, the greedy tokens against llama2.c
            if ("true".equalsIgnoreCase(System.getenv("CI")) || Files.exists(SharedModels.root().resolve(stories))) {
                SharedModels.require(stories); // fails under CI when missing
                selectors.addAll(List.of(
                        "method:io.inferstream.runtime.engine.EngineCudaGpuTest#continuousBatchingOnTheGpuGeneratesTheCpuEnginesTokens",
                        "method:io.inferstream.runtime.engine.EngineCudaGpuTest#anAutoKvCacheTakesWhatTheMemoryPlanLeaves",
                        "class:io.inferstream.runtime.cli.GenerateCommandTest", "class:io.inferstream.runtime.backend.DeviceOptionTest",
                        "class:io.inferstream.runtime.backend.BackendsGpuTest",
                        "class:io.inferstream.runtime.backend.SeveralDevicesGpuTest", // two devices: see below
                        "method:" + MODEL_TEST + "#stories260KGreedyIsTokenIdenticalToTheCpuBackendAndLlama2c"));
                atLeast = 132;
            } else {
                System.out.println("SKIPPED (the tests that run stories260K, on the emulated device only): "
                        + SharedModels.root().resolve(stories) + " is missing; set INFERSTREAM_MODELS to a copy of shared/models");
            }
        }
        // the two runs in different orders of blocks and threads (cuda_shim.h): a race shows in one or the other
        // 9.0 with two devices (each test runs on cuda:0; SeveralDevicesGpuTest puts engines on both at once)
        runOnTheEmulatedDriver(computeCapability, computeCapability.startsWith("9") ? "shuffle:20261129" : "reverse", EmulatedDriver.FORCED,
                selectors, atLeast, computeCapability.startsWith("9") ? Map.of("INFERSTREAM_EMULATED_DEVICES", "2") : Map.of());
    }

    /**
     * The load-time trials themselves, as a GPU machine's first load runs them (two replays per way instead of 20: the
     * emulator's timings decide nothing), on compute capability 9.0. Packed weights are forced so that the trials that
     * build on them (rows per warp, warpgroup MMAs) run whatever the emulator's timing would pick.
     */
    @org.junit.jupiter.api.Test
    void loadTimeTrialsRunOnTheEmulatedDriver() throws IOException, InterruptedException {
        runOnTheEmulatedDriver("9.0", "forward", List.of("-Dinferstream.cuda.trialReplays=2", "-Dinferstream.cuda.packedStream=on"),
                List.of("method:" + MODEL_TEST + "#everyLoadTimeTrialRunsWithoutFailing"), 1);
    }

    /**
     * A device lost to a sticky error, in a JVM of its own (the context's reset ends every other CUDA object of the
     * process): the engine fails with the reason, and the next model on the device runs (DeviceLossGpuTest).
     */
    @org.junit.jupiter.api.Test
    void aLostDeviceFailsTheEngineAndTheNextModelRuns() throws IOException, InterruptedException {
        Path stories = SharedModels.root().resolve("stories260K/stories260K.gguf");
        if (!"true".equalsIgnoreCase(System.getenv("CI")) && !Files.exists(stories)) {
            skip(stories + " is missing; set INFERSTREAM_MODELS to a copy of shared/models");
        }
        SharedModels.require("stories260K/stories260K.gguf");
        runOnTheEmulatedDriver("9.0", "forward", EmulatedDriver.FORCED, List.of("class:io.inferstream.runtime.backend.DeviceLossGpuTest"), 1,
                Map.of("INFERSTREAM_EMULATED_FAULT_FILE", dir.resolve("fault").toString()));
    }

    private void runOnTheEmulatedDriver(String computeCapability, String order, List<String> properties,
                                        List<String> selectors, int minSuccessful) throws IOException, InterruptedException {
        runOnTheEmulatedDriver(computeCapability, order, properties, selectors, minSuccessful, Map.of());
    }

    private void runOnTheEmulatedDriver(String computeCapability, String order, List<String> properties,
                                        List<String> selectors, int minSuccessful, Map<String, String> environment)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--add-modules", ProgrammaticLaunch.JAVA_HAS_MODULE ? "jdk.incubator.vector,jdk.incubator.foreign" : "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "-Xss4m", "-Xmx3g"));
        cmd.addAll(properties);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), EmulatedGpuRun.class.getName()));
        cmd.addAll(selectors);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", driver.toString());
        pb.environment().put("INFERSTREAM_EMULATED_CC", computeCapability);
        pb.environment().put("INFERSTREAM_EMULATED_ORDER", order);
        pb.environment().put("INFERSTREAM_REQUIRE_GPU", "1");
        pb.environment().put("INFERSTREAM_MODELS", SharedModels.root().toString());
        pb.environment().putAll(environment);
        System.out.println("emulated device: compute " + computeCapability + ", blocks and threads in " + order + " order");
        Path log = Files.createTempFile(dir, "emulated-" + computeCapability + "-", ".log");
        Process p = pb.redirectOutput(log.toFile()).start();
        boolean ended = p.waitFor(20, TimeUnit.MINUTES);
        if (!ended) {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        System.out.println(out); // each test's line, for the report
        assertTrue(ended, "the emulated GPU run timed out:\n" + tail(out));
        assertTrue(out.contains("GPU tests on cuda:0 (InferStream emulated CUDA device (compute " + computeCapability),
                "the tests did not run on the emulated device:\n" + tail(out));
        assertEquals(0, p.exitValue(), "GPU tests on the emulated driver:\n" + tail(out));
        assertTrue(out.lines().filter(l -> l.startsWith("SUCCESSFUL")).count() >= minSuccessful, tail(out));
    }

    private static String tail(String out) {
        List<String> lines = out.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
    }

    private static void skip(String reason) {
        System.out.println("SKIPPED: " + reason);
        Assumptions.abort(reason);
    }
}
