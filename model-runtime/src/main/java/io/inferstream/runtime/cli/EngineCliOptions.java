package io.inferstream.runtime.cli;

import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.kv.KvStore;
import picocli.CommandLine.Option;

/** The engine's batching and KV-cache flags, shared by the commands that run a whole engine (a picocli mixin). */
public final class EngineCliOptions {

    @Option(names = "--max-batched-tokens", defaultValue = "" + EngineConfig.DEFAULT_MAX_BATCHED_TOKENS,
            description = "tokens per engine step: decode tokens plus prefill chunks (default: ${DEFAULT-VALUE})")
    int maxBatchedTokens;

    @Option(names = "--max-sequences", defaultValue = "" + EngineConfig.DEFAULT_MAX_SEQUENCES,
            description = "sequences decoded together at most (default: ${DEFAULT-VALUE})")
    int maxSequences;

    @Option(names = "--kv-cache-memory", defaultValue = "auto",
            description = "KV cache budget, e.g. 256MiB, 1GiB; auto: on a GPU what its memory plan leaves after the weights "
                    + "and activations (see --gpu-memory-fraction), capped at every sequence's full context; on the CPU 256MiB, or one "
                    + "sequence at up to 8192 positions where that needs more and the Java heap has room (default: ${DEFAULT-VALUE})")
    String kvCacheMemory;

    @Option(names = "--kv-precision", defaultValue = "F32", description = "F32 or F16 (default: ${DEFAULT-VALUE})")
    KvStore.Precision kvPrecision;

    @picocli.CommandLine.Mixin
    SpeculationCliOptions speculation = new SpeculationCliOptions();

    /** The default engine configuration with these flags applied. */
    public EngineConfig config() {
        return EngineConfig.defaults()
                .withMaxBatchedTokens(maxBatchedTokens)
                .withMaxSequences(maxSequences)
                .withKvCacheBytes(EngineConfig.parseBytes(kvCacheMemory))
                .withKvPrecision(kvPrecision)
                .withSpeculation(speculation.speculation());
    }
}
