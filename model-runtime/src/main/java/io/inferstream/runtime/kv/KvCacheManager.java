package io.inferstream.runtime.kv;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which physical KV blocks each sequence owns (its block table) and which full blocks are shared
 * through the prefix cache. The numbers themselves live in a {@link KvStore}; this class only hands out
 * block ids.
 *
 * <p>Life of a sequence: {@link #findCachedPrefix} (no side effects) → {@link #allocate} (takes the
 * cached blocks and new ones for the tokens about to be computed; all or nothing) → after each forward,
 * {@link #cacheFullBlocks} registers blocks that became full → {@link #free}. Not thread-safe: only the
 * engine's step thread uses it.
 */
public final class KvCacheManager {

    private final BlockPool pool;
    private final int blockSize;
    private final boolean prefixCaching;
    private final Map<Long, SequenceBlocks> sequences = new HashMap<>();
    private long queriedTokens;
    private long hitTokens;
    private long queriedBlocks;
    private long hitBlocks;

    /** A sequence's block table and the hashes of its leading full blocks. */
    private static final class SequenceBlocks {
        final List<Integer> blocks = new ArrayList<>();
        final List<BlockHash> hashes = new ArrayList<>();
    }

    public KvCacheManager(int numBlocks, int blockSize, boolean prefixCaching) {
        if (blockSize <= 0) {
            throw new IllegalArgumentException("KV block size must be positive, got " + blockSize);
        }
        this.pool = new BlockPool(numBlocks);
        this.blockSize = blockSize;
        this.prefixCaching = prefixCaching;
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return pool.numBlocks();
    }

    public int numFreeBlocks() {
        return pool.numFree();
    }

    public int numUsedBlocks() {
        return pool.numUsed();
    }

    public int numCachedBlocks() {
        return pool.numCached();
    }

    public boolean prefixCaching() {
        return prefixCaching;
    }

    /** Blocks needed to hold {@code tokens} positions. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /**
     * The cached full blocks at the start of {@code tokens}, using at most {@code maxTokens} tokens
     * (the caller keeps the tokens whose logits it needs out of the cache, e.g. a prompt's last token).
     */
    public CachedPrefix findCachedPrefix(int[] tokens, int maxTokens) {
        if (!prefixCaching) {
            return CachedPrefix.none(blockSize);
        }
        int fullBlocks = Math.min(tokens.length, maxTokens) / blockSize;
        List<BlockHash> hashes = new ArrayList<>();
        int[] blocks = new int[fullBlocks];
        BlockHash parent = null;
        int found = 0;
        while (found < fullBlocks) {
            BlockHash h = BlockHash.of(parent, tokens, found * blockSize, blockSize);
            int b = pool.lookup(h);
            if (b < 0) {
                break;
            }
            blocks[found++] = b;
            hashes.add(h);
            parent = h;
        }
        return new CachedPrefix(java.util.Arrays.copyOf(blocks, found), hashes, blockSize);
    }

    /** Hashes of the first {@code fullBlocks} blocks of {@code tokens}, each chained to the one before. */
    public BlockHash[] blockHashes(int[] tokens, int fullBlocks) {
        BlockHash[] out = new BlockHash[fullBlocks];
        BlockHash parent = null;
        for (int i = 0; i < fullBlocks; i++) {
            parent = BlockHash.of(parent, tokens, i * blockSize, blockSize);
            out[i] = parent;
        }
        return out;
    }

    /**
     * Gives a sequence the blocks to hold {@code totalTokens} positions, first taking {@code prefix}'s
     * cached blocks when the sequence has none yet. All or nothing: returns false, changing nothing,
     * when too few blocks are free.
     */
    public boolean allocate(long seqId, CachedPrefix prefix, int totalTokens) {
        SequenceBlocks s = sequences.get(seqId);
        boolean fresh = s == null || s.blocks.isEmpty();
        CachedPrefix usable = fresh && prefix != null ? prefix : CachedPrefix.none(blockSize);
        int have = (s == null ? 0 : s.blocks.size()) + usable.blocks().length;
        int needNew = Math.max(0, blocksFor(totalTokens) - have);
        // Cached blocks nobody holds sit in the free queue: taking them uses up free blocks too.
        int unreferencedHits = 0;
        for (int b : usable.blocks()) {
            if (pool.refCount(b) == 0) {
                unreferencedHits++;
            }
        }
        if (needNew + unreferencedHits > pool.numFree()) {
            return false;
        }
        if (s == null) {
            s = new SequenceBlocks();
            sequences.put(seqId, s);
        }
        for (int i = 0; i < usable.blocks().length; i++) {
            pool.acquire(usable.blocks()[i]);
            s.blocks.add(usable.blocks()[i]);
            s.hashes.add(usable.hashes().get(i));
        }
        for (int i = 0; i < needNew; i++) {
            s.blocks.add(pool.allocate());
        }
        return true;
    }

    /** Counts one prefix-cache lookup of an admitted sequence in the hit-rate statistics. */
    public void recordLookup(int queriedTokenCount, CachedPrefix prefix) {
        if (!prefixCaching) {
            return;
        }
        queriedTokens += queriedTokenCount;
        queriedBlocks += queriedTokenCount / blockSize;
        hitTokens += prefix.tokens();
        hitBlocks += prefix.blocks().length;
    }

    /**
     * Registers in the prefix cache every block of the sequence that is full of computed tokens:
     * {@code tokens[0, computedTokens)} have their keys/values in the cache now.
     */
    public void cacheFullBlocks(long seqId, int[] tokens, int computedTokens) {
        if (!prefixCaching) {
            return;
        }
        SequenceBlocks s = sequences.get(seqId);
        if (s == null) {
            return;
        }
        int full = Math.min(computedTokens / blockSize, s.blocks.size());
        for (int i = s.hashes.size(); i < full; i++) {
            BlockHash parent = i == 0 ? null : s.hashes.get(i - 1);
            BlockHash h = BlockHash.of(parent, tokens, i * blockSize, blockSize);
            pool.cache(s.blocks.get(i), h);
            s.hashes.add(h);
        }
    }

    /** The sequence's physical block ids in position order (empty when it holds none). */
    public int[] blockTable(long seqId) {
        SequenceBlocks s = sequences.get(seqId);
        if (s == null) {
            return new int[0];
        }
        int[] t = new int[s.blocks.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = s.blocks.get(i);
        }
        return t;
    }

    /** Releases all of a sequence's blocks, last first, so that its tail is evicted before its shared head. */
    public void free(long seqId) {
        SequenceBlocks s = sequences.remove(seqId);
        if (s == null) {
            return;
        }
        for (int i = s.blocks.size() - 1; i >= 0; i--) {
            pool.release(s.blocks.get(i));
        }
    }

    public long queriedTokens() {
        return queriedTokens;
    }

    public long hitTokens() {
        return hitTokens;
    }

    public long queriedBlocks() {
        return queriedBlocks;
    }

    public long hitBlocks() {
        return hitBlocks;
    }

    public long evictions() {
        return pool.evictions();
    }
}
