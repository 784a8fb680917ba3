package io.inferstream.runtime.kv;

import java.util.Arrays;

/**
 * Identity of one full KV block's contents: the hash of its parent block (the whole prefix before it)
 * chained with its own token ids. Two sequences whose first {@code k} blocks hold the same tokens get
 * equal hashes for those blocks, so they can share the computed keys/values.
 *
 * <p>Equality compares the 64-bit chained digest and the block's own tokens, so a false match would need
 * a digest collision of the whole prefix and identical tokens in the block.
 */
public final class BlockHash {

    /** Parent digest of a sequence's first block. */
    public static final long ROOT = 0x9E3779B97F4A7C15L;

    private final long digest;
    private final int[] tokens;

    private BlockHash(long digest, int[] tokens) {
        this.digest = digest;
        this.tokens = tokens;
    }

    /** The hash of the block holding {@code tokens[from, from + blockSize)} after the block hashed {@code parent}. */
    public static BlockHash of(BlockHash parent, int[] tokens, int from, int blockSize) {
        long h = parent == null ? ROOT : parent.digest;
        for (int i = from; i < from + blockSize; i++) {
            h = mix(h ^ (tokens[i] & 0xFFFFFFFFL));
        }
        return new BlockHash(mix(h + blockSize), Arrays.copyOfRange(tokens, from, from + blockSize));
    }

    /** SplitMix64 finaliser: a cheap, well-spread 64-bit mixing function. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public long digest() {
        return digest;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockHash other && other.digest == digest && Arrays.equals(other.tokens, tokens);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(digest);
    }

    @Override
    public String toString() {
        return "BlockHash[" + Long.toHexString(digest) + "]";
    }
}
