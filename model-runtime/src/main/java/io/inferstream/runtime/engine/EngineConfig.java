package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.speculative.Speculation;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The engine's knobs, with their defaults in one place ({@link #defaults()}).
 *
 * @param maxBatchedTokens token budget of one step (prefill chunks plus decode tokens)
 * @param maxSequences     most sequences running (holding KV blocks) at once
 * @param blockSize        positions per KV block
 * @param kvCacheBytes     memory budget of the KV pool; blocks = budget / KvStore.bytesPerBlock; {@link #AUTO_KV_CACHE}:
 *                         what the model's device has room for ({@link #resolveKvCache}), 256 MiB on the CPU
 * @param kvPrecision      how keys and values are stored
 * @param prefixCaching    share full blocks of identical prefixes between sequences
 * @param logitCandidates  when steps whose rows can all be sampled from the best logits ask the model for those
 *                         ({@link io.inferstream.runtime.model.LanguageModel#forwardCandidates}) instead of full
 *                         logits; the same tokens either way. AUTO: only when the model's logits live on a device
 *                         (on the CPU the full logits are already in memory, and selecting costs a pass per row)
 * @param speculation      speculative decoding by prompt lookup ({@link Speculation#OFF} by default): decode steps also
 *                         run guessed tokens and keep those the sampler would have chosen; the same tokens either way
 */
public record EngineConfig(
        int maxBatchedTokens,
        int maxSequences,
        int blockSize,
        long kvCacheBytes,
        KvStore.Precision kvPrecision,
        boolean prefixCaching,
        Candidates logitCandidates,
        Speculation speculation) {

    /** Whether the engine asks the model for logit candidates (see {@code logitCandidates}). */
    public enum Candidates {
        AUTO, ALWAYS, NEVER;

        /** True when steps of {@code model} should use candidates. */
        public boolean use(LanguageModel model) {
            return this == ALWAYS || (this == AUTO && model.logitsOnDevice());
        }
    }

    public static final int DEFAULT_MAX_BATCHED_TOKENS = 512;
    public static final int DEFAULT_MAX_SEQUENCES = 64;
    public static final int DEFAULT_BLOCK_SIZE = 16;
    public static final long DEFAULT_KV_CACHE_BYTES = 256L << 20;
    /** On the CPU, an auto KV cache holds one sequence at up to this many positions where the heap has room. */
    public static final int CPU_AUTO_POSITIONS = 8192;
    /** kvCacheBytes that says: size the KV cache from the model's device memory plan (the CPU's default elsewhere). */
    public static final long AUTO_KV_CACHE = -1;

    public EngineConfig {
        if (maxBatchedTokens <= 0 || maxSequences <= 0 || blockSize <= 0 || (kvCacheBytes <= 0 && kvCacheBytes != AUTO_KV_CACHE)) {
            throw new IllegalArgumentException("engine limits must be positive: max-batched-tokens=" + maxBatchedTokens
                    + ", max-sequences=" + maxSequences + ", block size=" + blockSize + ", kv-cache-memory=" + kvCacheBytes);
        }
        if (kvPrecision == null) {
            throw new IllegalArgumentException("KV precision must be F32 or F16, got null");
        }
        if (logitCandidates == null) {
            throw new IllegalArgumentException("logit candidates must be AUTO, ALWAYS or NEVER, got null");
        }
        if (speculation == null) {
            throw new IllegalArgumentException("speculation must be given (Speculation.OFF for none), got null");
        }
    }

    public static EngineConfig defaults() {
        return new EngineConfig(DEFAULT_MAX_BATCHED_TOKENS, DEFAULT_MAX_SEQUENCES, DEFAULT_BLOCK_SIZE,
                DEFAULT_KV_CACHE_BYTES, KvStore.Precision.F32, true, Candidates.AUTO, Speculation.OFF);
    }

    public EngineConfig withMaxBatchedTokens(int n) {
        return new EngineConfig(n, maxSequences, blockSize, kvCacheBytes, kvPrecision, prefixCaching, logitCandidates, speculation);
    }

    public EngineConfig withMaxSequences(int n) {
        return new EngineConfig(maxBatchedTokens, n, blockSize, kvCacheBytes, kvPrecision, prefixCaching, logitCandidates, speculation);
    }

    public EngineConfig withBlockSize(int n) {
        return new EngineConfig(maxBatchedTokens, maxSequences, n, kvCacheBytes, kvPrecision, prefixCaching, logitCandidates, speculation);
    }

    public EngineConfig withKvCacheBytes(long bytes) {
        return new EngineConfig(maxBatchedTokens, maxSequences, blockSize, bytes, kvPrecision, prefixCaching, logitCandidates, speculation);
    }

    public EngineConfig withKvPrecision(KvStore.Precision p) {
        return new EngineConfig(maxBatchedTokens, maxSequences, blockSize, kvCacheBytes, p, prefixCaching, logitCandidates, speculation);
    }

    public EngineConfig withPrefixCaching(boolean on) {
        return new EngineConfig(maxBatchedTokens, maxSequences, blockSize, kvCacheBytes, kvPrecision, on, logitCandidates, speculation);
    }

    /** Candidates always (true) or never (false), whatever the model: tests compare the two paths on the CPU. */
    public EngineConfig withLogitCandidates(boolean on) {
        return new EngineConfig(maxBatchedTokens, maxSequences, blockSize, kvCacheBytes, kvPrecision, prefixCaching,
                on ? Candidates.ALWAYS : Candidates.NEVER, speculation);
    }

    public EngineConfig withSpeculation(Speculation s) {
        return new EngineConfig(maxBatchedTokens, maxSequences, blockSize, kvCacheBytes, kvPrecision, prefixCaching,
                logitCandidates, s);
    }

    /**
     * This configuration with an {@link #AUTO_KV_CACHE} budget made concrete for {@code model}: on a device, what its
     * memory plan leaves for the KV cache ({@link LanguageModel#kvCacheBudget}), but no more than every sequence at
     * the model's full context needs (maxSequences x contextLength positions); on the CPU {@link #cpuAutoBytes}. A
     * configured budget is returned as it is.
     */
    public EngineConfig resolveKvCache(LanguageModel model) {
        if (kvCacheBytes != AUTO_KV_CACHE) {
            return this;
        }
        java.util.OptionalLong budget = model.kvCacheBudget();
        ModelConfig c = model.config();
        return withKvCacheBytes(resolveKvCacheFor(budget, c.nLayers(), c.kvDim(), c.contextLength()));
    }

    /** The auto budget for a device with {@code budget} bytes free for the KV cache (empty: the CPU). */
    public long resolveKvCacheFor(java.util.OptionalLong budget, int nLayers, int kvDim, int contextLength) {
        if (budget.isEmpty()) {
            Runtime heap = Runtime.getRuntime();
            return cpuAutoBytes(nLayers, kvDim, contextLength, heap.maxMemory(), heap.totalMemory() - heap.freeMemory());
        }
        long perBlock = KvStore.bytesPerBlock(nLayers, kvDim, blockSize, kvPrecision);
        long blocksPerSequence = ((long) Math.max(1, contextLength) + blockSize - 1) / blockSize;
        long most = perBlock * Math.min((long) Integer.MAX_VALUE, blocksPerSequence * maxSequences);
        long bytes = Math.min(budget.getAsLong(), most) / perBlock * perBlock; // whole blocks
        if (bytes < perBlock) {
            throw new IllegalArgumentException("the device has " + budget.getAsLong() + " bytes left for the KV cache after "
                    + "the weights and activations, less than one KV block (" + perBlock + " bytes); lower "
                    + "--max-batched-tokens or raise --gpu-memory-fraction");
        }
        return bytes;
    }

    /**
     * The auto budget on the CPU, where the KV cache shares the Java heap ({@code maxHeap}, {@code usedHeap} of it in
     * use, the weights among it) with everything else: {@link #DEFAULT_KV_CACHE_BYTES}, or, for a model whose one
     * sequence at min(context, {@link #CPU_AUTO_POSITIONS}) positions needs more (3B models and up, Phi-3.5-mini's 786 KB
     * a position in F32), that much as far as a quarter of the heap and half of its free part allow. Never less than the
     * default.
     */
    public long cpuAutoBytes(int nLayers, int kvDim, int contextLength, long maxHeap, long usedHeap) {
        long perBlock = KvStore.bytesPerBlock(nLayers, kvDim, blockSize, kvPrecision);
        long want = cpuAutoWant(nLayers, kvDim, contextLength);
        long room = Math.min(maxHeap / 4, Math.max(0, maxHeap - usedHeap) / 2) / perBlock * perBlock;
        return Math.max(DEFAULT_KV_CACHE_BYTES, Math.min(want, room));
    }

    /** One sequence at min(context, {@link #CPU_AUTO_POSITIONS}) positions, in whole blocks. */
    long cpuAutoWant(int nLayers, int kvDim, int contextLength) {
        long blocks = ((long) Math.min(Math.max(1, contextLength), CPU_AUTO_POSITIONS) + blockSize - 1) / blockSize;
        return blocks * KvStore.bytesPerBlock(nLayers, kvDim, blockSize, kvPrecision);
    }

    /** KV blocks the budget buys for a model of {@code nLayers} layers and {@code kvDim}-wide keys. */
    public int numBlocks(int nLayers, int kvDim) {
        if (kvCacheBytes == AUTO_KV_CACHE) {
            throw new IllegalStateException("the auto KV-cache budget depends on the model: resolveKvCache(model) first");
        }
        long perBlock = KvStore.bytesPerBlock(nLayers, kvDim, blockSize, kvPrecision);
        long blocks = kvCacheBytes / perBlock;
        if (blocks < 1) {
            throw new IllegalArgumentException("kv-cache-memory of " + kvCacheBytes + " bytes is smaller than one KV block ("
                    + perBlock + " bytes for " + nLayers + " layers x " + kvDim + " x " + blockSize + " positions, "
                    + kvPrecision + ")");
        }
        return (int) Math.min(blocks, Integer.MAX_VALUE);
    }

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]?)(I?B)?", Pattern.CASE_INSENSITIVE);

    /**
     * Parses a memory size such as "256MiB", "1GiB", "512M" or "1048576" (binary units) into bytes; "auto" gives
     * {@link #AUTO_KV_CACHE}.
     */
    public static long parseBytes(String text) {
        if (text.trim().equalsIgnoreCase("auto")) {
            return AUTO_KV_CACHE;
        }
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a memory size: '" + text + "' (expected e.g. 256MiB, 1GiB, 4096)");
        }
        double value = Double.parseDouble(m.group(1));
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            default -> 0;
        };
        return (long) (value * (1L << shift));
    }
}
