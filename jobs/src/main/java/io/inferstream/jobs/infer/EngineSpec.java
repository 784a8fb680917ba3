package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.kv.KvStore;
import java.io.Serializable;
import java.util.Locale;

/**
 * Which engine an operator needs: a model file on a device with engine limits. Operators in one JVM
 * with equal specs share one engine ({@link SharedEngines}).
 *
 * @param modelPath    absolute path of the GGUF file on every TaskManager
 * @param modelName    what results name as their model (the --model value as given)
 * @param device       cpu, cuda, cuda:N or auto (see {@link DeviceOption})
 * @param kvCacheBytes KV-cache memory budget // bytes
 */
public record EngineSpec(
        String modelPath,
        String modelName,
        String device,
        int maxBatchedTokens,
        int maxSequences,
        long kvCacheBytes,
        KvStore.Precision kvPrecision,
        boolean prefixCaching) implements Serializable {

    public EngineSpec {
        if (modelPath == null || modelPath.isBlank()) {
            throw new IllegalArgumentException("engine spec needs a model path");
        }
        device = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
        DeviceOption.parse(device); // validates: cpu | cuda | cuda:N | auto
        engineConfig(maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision, prefixCaching); // validates the limits
    }

    /** A spec with the engine's default limits. */
    public static EngineSpec of(String modelPath, String modelName) {
        EngineConfig d = EngineConfig.defaults();
        return new EngineSpec(modelPath, modelName, "cpu", d.maxBatchedTokens(), d.maxSequences(), d.kvCacheBytes(),
                d.kvPrecision(), d.prefixCaching());
    }

    public EngineConfig engineConfig() {
        return engineConfig(maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision, prefixCaching);
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

    public EngineSpec withLimits(int maxBatchedTokens, int maxSequences, long kvCacheBytes) {
        return new EngineSpec(modelPath, modelName, device, maxBatchedTokens, maxSequences, kvCacheBytes, kvPrecision,
                prefixCaching);
    }
}
