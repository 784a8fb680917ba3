package io.inferstream.runtime.kv;

import java.util.List;

/**
 * The longest run of a sequence's leading full blocks found in the prefix cache: the blocks and their
 * hashes, in position order. Looking it up changes nothing; {@link KvCacheManager#allocate} takes it.
 */
public record CachedPrefix(int[] blocks, List<BlockHash> hashes, int blockSize) {

    public static CachedPrefix none(int blockSize) {
        return new CachedPrefix(new int[0], List.of(), blockSize);
    }

    /** Tokens whose keys/values need not be computed again. */
    public int tokens() {
        return blocks.length * blockSize;
    }
}
