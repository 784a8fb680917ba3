package io.inferstream.runtime.cli;

import io.inferstream.runtime.backend.Backends;
import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.backend.DevicePlacement;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.LoadTimeQuantization;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.KQuantPolicy;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.tensor.CompilerTrapLimit;
import java.io.PrintStream;
import picocli.CommandLine.Option;

/**
 * {@code --device} for the commands that load a model (a picocli mixin): the same choice as the Flink jobs' flag,
 * through {@link Backends}, and the one line that says which backend was chosen and why; with the GPU's memory share
 * and how it holds K-quant weights.
 */
public final class DeviceCliOption {

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEVICE",
            description = "Where the model runs: cpu, cuda (GPU 0 here), cuda:N (GPU N), or auto (a GPU when one is usable, else the CPU) (default: ${DEFAULT-VALUE}).")
    String device = "cpu";

    @Option(names = "--gpu-memory-fraction", defaultValue = "" + CudaLlamaModel.Options.DEFAULT_MEMORY_FRACTION,
            paramLabel = "F",
            description = "On a GPU: the share of the device's memory the model takes for weights, activations and KV cache, in (0, 1]; of what is free when less than that is (default: ${DEFAULT-VALUE}).")
    double gpuMemoryFraction = CudaLlamaModel.Options.DEFAULT_MEMORY_FRACTION;

    @Option(names = "--gpu-kquants", defaultValue = "AUTO", paramLabel = "AUTO|NATIVE|F16",
            description = "On a GPU: Q4_K/Q6_K weights decoded to F16 (2 bytes a weight, the faster kernels) or kept quantized (0.75 and 1.25 bytes a weight); AUTO decodes them unless they would not fit (default: ${DEFAULT-VALUE}).")
    KQuantPolicy gpuKQuants = KQuantPolicy.AUTO;

    @Option(names = "--quantize", defaultValue = "none", paramLabel = "none|q8_0|q4_0",
            description = "On the CPU: re-encode the model's F32/F16/BF16 matrices as Q8_0 or Q4_0 when it loads (llama.cpp's reference quantizers), e.g. a Hugging Face BF16 folder; quantized weights stay as they are (default: ${DEFAULT-VALUE}).")
    String quantize = "none";

    /** The parsed option (a clear error for anything but cpu, cuda, cuda:N, auto). */
    public DeviceOption option() {
        return DeviceOption.parse(device);
    }

    /** The GPU backend's options for steps of up to {@code maxBatchTokens} tokens (a clear error for a bad fraction). */
    public CudaLlamaModel.Options cudaOptions(int maxBatchTokens) {
        return CudaLlamaModel.Options.defaults().withMemoryFraction(gpuMemoryFraction).withMaxBatchTokens(maxBatchTokens)
                .withKQuants(gpuKQuants);
    }

    /** A model loaded on the CPU by other means (a llama2.c checkpoint) with {@code --quantize} applied, said to {@code log}. */
    public LlamaModel quantizedOnTheCpu(LlamaModel model, PrintStream log) {
        GgmlType type = LoadTimeQuantization.parse(quantize);
        if (type != null) {
            log.println("--quantize " + quantize.toLowerCase(java.util.Locale.ROOT) + ": float weight matrices re-encoded as "
                    + type + " at load");
        }
        return LoadTimeQuantization.apply(model, type);
    }

    /** Loads the model on the chosen backend (steps of the engine's default size) and prints the choice to {@code log}. */
    public LanguageModel load(Checkpoint checkpoint, PrintStream log) {
        return load(checkpoint, log, EngineConfig.DEFAULT_MAX_BATCHED_TOKENS);
    }

    /** Loads the model on the chosen backend, for steps of up to {@code maxBatchTokens} tokens. */
    public LanguageModel load(Checkpoint checkpoint, PrintStream log, int maxBatchTokens) {
        GgmlType type = LoadTimeQuantization.parse(quantize);
        Backends.Loaded loaded = Backends.load(checkpoint, option(), cudaOptions(maxBatchTokens), DevicePlacement.FIRST, type);
        log.println(loaded.choice().reason());
        loaded.quantized(type).ifPresent(log::println);
        loaded.deviceMemory().ifPresent(memory -> log.println("device memory: " + memory));
        if (!loaded.choice().cuda()) {
            CompilerTrapLimit.advice().ifPresent(advice -> log.println("warning: " + advice));
        }
        return loaded.model();
    }
}
