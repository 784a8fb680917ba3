package io.inferstream.runtime.cli;

import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.kv.KvStore;
import picocli.CommandLine.Option;

/** The engine's batching and KV-cache flags, shared by the commands that run a whole engine (a picocli mixin). */
public final class EngineCliOptions {

    @Option(names = "--max-batched-tokens", defaultValue = "" + EngineConfig.DEFAULT_MAX_BATCHED_TOKENS)
    int maxBatchedTokens;

    @Option(names = "--max-sequences", defaultValue = "" + EngineConfig.DEFAULT_MAX_SEQUENCES)
    int maxSequences;

    @Option(names = "--kv-cache-memory", defaultValue = "256MiB", description = "KV cache budget, e.g. 256MiB, 1GiB")
    String kvCacheMemory;

    @Option(names = "--kv-precision", defaultValue = "F32", description = "F32 or F16")
    KvStore.Precision kvPrecision;

    /** The default engine configuration with these flags applied. */
    public EngineConfig config() {
        return EngineConfig.defaults()
                .withMaxBatchedTokens(maxBatchedTokens)
                .withMaxSequences(maxSequences)
                .withKvCacheBytes(EngineConfig.parseBytes(kvCacheMemory))
                .withKvPrecision(kvPrecision);
    }
}
