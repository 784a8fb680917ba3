package io.inferstream.runtime.engine;

import java.util.Locale;
import java.util.OptionalLong;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/**
 * How big an engine's KV cache is and where that size came from, said once when the engine starts: on a GPU the
 * pool is most of the device, and how many full-context sequences it holds is what an operator sizes jobs by.
 *
 * @param blocks        KV blocks in the pool
 * @param blockSize     positions per block
 * @param bytes         bytes of the pool
 * @param precision     how keys and values are stored
 * @param contextLength the model's context, in positions
 * @param maxSequences  sequences the scheduler runs at once at most
 * @param source        why this size: the configured budget, the CPU default, or the device's memory plan
 */
public record KvCacheSizing(int blocks, int blockSize, long bytes, KvStore.Precision precision, int contextLength,
                            int maxSequences, String source) {

    /**
     * The sizing of a pool for {@code model} under {@code requested} (its budget may be auto), once {@code resolved}
     * has made the budget concrete; {@code deviceBudget} is what the model's memory plan left (empty on the CPU).
     */
    static KvCacheSizing of(EngineConfig requested, EngineConfig resolved, ModelConfig model, OptionalLong deviceBudget) {
        int blocks = resolved.numBlocks(model.nLayers(), model.kvDim());
        long bytes = blocks * KvStore.bytesPerBlock(model.nLayers(), model.kvDim(), resolved.blockSize(), resolved.kvPrecision());
        String source;
        if (requested.kvCacheBytes() != EngineConfig.AUTO_KV_CACHE) {
            source = "--kv-cache-memory " + gib(requested.kvCacheBytes());
        } else if (deviceBudget.isEmpty() && resolved.kvCacheBytes() <= EngineConfig.DEFAULT_KV_CACHE_BYTES) {
            source = "auto on the CPU: the default " + gib(EngineConfig.DEFAULT_KV_CACHE_BYTES);
        } else if (deviceBudget.isEmpty()) {
            int positions = Math.min(model.contextLength(), EngineConfig.CPU_AUTO_POSITIONS);
            source = resolved.kvCacheBytes() >= resolved.cpuAutoWant(model.nLayers(), model.kvDim(), model.contextLength())
                    ? "auto on the CPU: one sequence at " + positions + " positions, more than the default "
                    + gib(EngineConfig.DEFAULT_KV_CACHE_BYTES) + " holds"
                    : "auto on the CPU: what a quarter of the Java heap and half of its free part allow, short of one "
                    + "sequence at " + positions + " positions; raise -Xmx or set --kv-cache-memory";
        } else if (deviceBudget.getAsLong() - bytes >= KvStore.bytesPerBlock(model.nLayers(), model.kvDim(),
                resolved.blockSize(), resolved.kvPrecision())) {
            source = "auto: enough for all " + resolved.maxSequences() + " sequences at the full context, of the "
                    + gib(deviceBudget.getAsLong()) + " the device memory plan leaves";
        } else {
            source = "auto: what the device memory plan leaves";
        }
        return new KvCacheSizing(blocks, resolved.blockSize(), bytes, resolved.kvPrecision(), model.contextLength(),
                resolved.maxSequences(), source);
    }

    /** Positions the pool holds (before prefix sharing, which lets sequences share full blocks). */
    public long tokens() {
        return (long) blocks * blockSize;
    }

    /** Sequences at the model's full context that fit at once (vLLM's "maximum concurrency"). */
    public double fullContextSequences() {
        long perSequence = ((long) contextLength + blockSize - 1) / blockSize;
        return (double) blocks / perSequence;
    }

    /**
     * E.g. "KV cache: 7812 blocks of 16 positions = 124992 tokens, 3.81 GiB F16 (auto: what the device memory plan
     * leaves); 0.95 sequences at the full context of 131072 tokens fit at once, the scheduler runs at most 64".
     */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "KV cache: %d blocks of %d positions = %d tokens, %s %s (%s); %.2f sequences "
                        + "at the full context of %d tokens fit at once, the scheduler runs at most %d",
                blocks, blockSize, tokens(), gib(bytes), precision, source, fullContextSequences(), contextLength,
                maxSequences);
    }

    private static String gib(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
}
