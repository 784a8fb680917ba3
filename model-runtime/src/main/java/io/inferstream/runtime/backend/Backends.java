package io.inferstream.runtime.backend;

import java.util.Map;
import java.util.Optional;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LoadTimeQuantization;
import io.inferstream.runtime.model.LanguageModel;

/** Opens a model (GGUF or Hugging Face safetensors) on the backend a {@code --device} option selects, saying which it chose. */
public final class Backends {

    private Backends() {
    }

    /**
     * A loaded model, the line explaining the backend choice and, on a GPU, what the model chose at load for each
     * kernel family and why (empty on the CPU): what an operator reads first when a GPU runs slower than expected;
     * and on a GPU how its memory was divided ({@code MemoryPlan.summary()}; empty on the CPU).
     * {@code device} names what runs the model: "cpu", or e.g. "cuda:0 (NVIDIA H200, compute 9.0)".
     */
    public record Loaded(LanguageModel model, BackendChoice choice, String device, Map<String, String> kernelChoices,
                         Optional<String> deviceMemory) {

        /** What a {@code --quantize} of {@code type} (null: none) did to this load, in one line. */
        public Optional<String> quantized(GgmlType type) {
            if (type == null) {
                return Optional.empty();
            }
            String t = type.name().toLowerCase(java.util.Locale.ROOT);
            return Optional.of(choice.cuda()
                    ? "--quantize " + t + " is not applied on the GPU: the weights go to the device as stored"
                    : "--quantize " + t + ": float weight matrices re-encoded as " + type + " at load (those whose rows are not"
                            + " whole blocks of " + type.blockSize() + " stay as stored)");
        }
    }

    /**
     * What {@code option} resolves to on this machine (the CPU is not probed for a GPU); throws, with the reason and
     * the remedy, for a CUDA device that is not here.
     */
    public static BackendChoice choose(DeviceOption option) {
        return choose(option, DevicePlacement.FIRST);
    }

    /** {@link #choose(DeviceOption)}, with {@code placement} picking the device where the option names none. */
    public static BackendChoice choose(DeviceOption option, DevicePlacement placement) {
        return option.kind() == DeviceOption.Kind.CPU
                ? BackendChoice.resolve(option, new CudaDevice.Probe(false, 0, "not probed"))
                : BackendChoice.resolve(option, CudaDevice.probe(), placement);
    }

    /** {@link #load(Checkpoint, DeviceOption, CudaLlamaModel.Options, DevicePlacement)} on cuda:0 where none is named. */
    public static Loaded load(Checkpoint checkpoint, DeviceOption option, CudaLlamaModel.Options cudaOptions) {
        return load(checkpoint, option, cudaOptions, DevicePlacement.FIRST);
    }

    public static Loaded load(Checkpoint checkpoint, DeviceOption option, CudaLlamaModel.Options cudaOptions,
                              DevicePlacement placement) {
        return load(checkpoint, option, cudaOptions, placement, null);
    }

    /**
     * Loads the model where {@code option} says. On the CPU its float matrices are re-encoded as {@code quantize}
     * ({@link LoadTimeQuantization}; null keeps them as stored); a GPU takes the weights as stored whatever it says (its
     * products read F16/BF16 on the tensor cores and Q8_0/K-quants as they are): see {@link Loaded#quantized}.
     */
    public static Loaded load(Checkpoint checkpoint, DeviceOption option, CudaLlamaModel.Options cudaOptions,
                              DevicePlacement placement, GgmlType quantize) {
        BackendChoice choice = choose(option, placement);
        if (choice.cuda()) {
            choice = choice.forModel(option, checkpoint.config());
        }
        if (!choice.cuda()) {
            return new Loaded(LoadTimeQuantization.apply(checkpoint.loadModel(), quantize), choice, "cpu", Map.of(),
                    Optional.empty());
        }
        CudaDevice device = CudaDevice.open(choice.ordinal());
        try {
            CudaLlamaModel model = CudaLlamaModel.load(checkpoint, device, cudaOptions);
            return new Loaded(new DeviceOwningModel(model, device), choice, device.toString(), model.kernelChoices(),
                    Optional.of(model.memoryPlan().summary()));
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }
}
