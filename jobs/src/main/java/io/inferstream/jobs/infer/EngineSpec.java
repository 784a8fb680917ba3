package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.KQuantPolicy;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LoadTimeQuantization;
import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.speculative.Speculation;
import java.io.Serializable;
import java.util.Locale;

/**
 * Which engine an operator needs: a model file on a device with engine limits. Operators in one JVM
 * with equal specs share one engine ({@link SharedEngines}).
 *
 * @param model        the GGUF file as each TaskManager finds it ({@link TaskManagerModelFile}): an absolute local
 *                     path, the same on every TaskManager, or an {@code hf://} spec each resolves into its own cache
 * @param modelName    what results name as their model (the --model value as given)
 * @param device            cpu, cuda, cuda:N or auto (see {@link DeviceOption})
 * @param kvCacheBytes      KV-cache memory budget, or EngineConfig.AUTO_KV_CACHE (the GPU memory plan's room; 256 MiB on the CPU) // bytes
 * @param gpuMemoryFraction on a GPU, the share of the device's memory the model takes (of its free memory when less is free), in (0, 1]
 * @param gpuKQuants        on a GPU, how Q4_K / Q6_K weights are held
 * @param quantize          on the CPU, the type float weights are re-encoded as at load (none, q8_0, q4_0: see
 *                          {@link LoadTimeQuantization})
 * @param speculation       prompt-lookup speculative decoding ({@link Speculation#OFF}: none)
 * @param contextTokens     the context the model is loaded for, 0 = its default ({@code --context-tokens}): a LongRoPE
 *                          model (Phi-3 128k, Phi-3.5, Phi-4-mini) asked for more than its original context turns with
 *                          its long factors ({@link io.inferstream.runtime.checkpoint.Checkpoint#withContext})
 * @param hub               for an {@code hf://} model: the command line's cache, endpoint and offline flags, applied
 *                          over each TaskManager's environment
 */
public record EngineSpec(
        String model,
        String modelName,
        String device,
        int maxBatchedTokens,
        int maxSequences,
        long kvCacheBytes,
        KvStore.Precision kvPrecision,
        boolean prefixCaching,
        double gpuMemoryFraction,
        KQuantPolicy gpuKQuants,
        String quantize,
        Speculation speculation,
        int contextTokens,
        HubOverrides hub) implements Serializable {

    public EngineSpec {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("engine spec needs a model");
        }
        hub = hub == null ? HubOverrides.NONE : hub;
        speculation = speculation == null ? Speculation.OFF : speculation;
        device = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
        DeviceOption.parse(device); // validates: cpu | cuda | cuda:N | auto
        engineConfig(maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision, prefixCaching); // validates the limits
        cudaOptions(gpuMemoryFraction, maxBatchedTokens, gpuKQuants); // validates the GPU settings
        quantize = quantize == null ? "none" : quantize.toLowerCase(Locale.ROOT);
        LoadTimeQuantization.parse(quantize); // validates: none | q8_0 | q4_0
        if (contextTokens < 0) {
            throw new IllegalArgumentException("context tokens must be >= 0 (0 = the model's), got " + contextTokens);
        }
    }

    /** The type float weights are re-encoded as on the CPU, or null to keep them as stored. */
    public GgmlType quantizeType() {
        return LoadTimeQuantization.parse(quantize);
    }

    /** A spec with the engine's and the GPU backend's defaults, on the CPU. */
    public static EngineSpec of(String model, String modelName) {
        EngineConfig d = EngineConfig.defaults();
        CudaLlamaModel.Options g = CudaLlamaModel.Options.defaults();
        return new EngineSpec(model, modelName, "cpu", d.maxBatchedTokens(), d.maxSequences(), d.kvCacheBytes(),
                d.kvPrecision(), d.prefixCaching(), g.memoryFraction(), g.kQuants(), "none", Speculation.OFF, 0, HubOverrides.NONE);
    }

    /** This spec on another device. */
    public EngineSpec withDevice(String device) {
        return new EngineSpec(model, modelName, device, maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision,
                prefixCaching, gpuMemoryFraction, gpuKQuants, quantize, speculation, contextTokens, hub);
    }

    /** The GPU backend's options: this memory share and K-quant policy, scratch for steps of maxBatchedTokens. */
    public CudaLlamaModel.Options cudaOptions() {
        return cudaOptions(gpuMemoryFraction, maxBatchedTokens, gpuKQuants);
    }

    private static CudaLlamaModel.Options cudaOptions(double fraction, int maxBatchedTokens, KQuantPolicy kQuants) {
        return CudaLlamaModel.Options.defaults().withMemoryFraction(fraction).withMaxBatchTokens(maxBatchedTokens)
                .withKQuants(kQuants);
    }

    public EngineConfig engineConfig() {
        return engineConfig(maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision, prefixCaching).withSpeculation(speculation);
    }

    private static EngineConfig engineConfig(int maxBatchedTokens, int maxSequences, long kvCacheBytes,
            KvStore.Precision kvPrecision, boolean prefixCaching) {
        return EngineConfig.defaults()
                .withMaxBatchedTokens(maxBatchedTokens)
                .withMaxSequences(maxSequences)
                .withKvCacheBytes(kvCacheBytes)
                .withKvPrecision(kvPrecision)
                .withPrefixCaching(prefixCaching);
    }

    /** This spec with an hf:// model resolved on each TaskManager with these hub flags. */
    public EngineSpec withHub(HubOverrides overrides) {
        return new EngineSpec(model, modelName, device, maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision,
                prefixCaching, gpuMemoryFraction, gpuKQuants, quantize, speculation, contextTokens, overrides);
    }

    public EngineSpec withLimits(int maxBatchedTokens, int maxSequences, long kvCacheBytes) {
        return new EngineSpec(model, modelName, device, maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision,
                prefixCaching, gpuMemoryFraction, gpuKQuants, quantize, speculation, contextTokens, hub);
    }
}
