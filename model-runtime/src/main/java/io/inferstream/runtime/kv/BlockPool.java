package io.inferstream.runtime.kv;

import java.util.HashMap;
import java.util.Map;

/**
 * The fixed set of physical KV block ids with their reference counts, the prefix cache
 * (block hash → block id) and the free queue.
 *
 * <p>A block with reference count 0 sits in the free queue but keeps its contents and its hash until it
 * is handed out again, so a later sequence with the same prefix can take it back (a cache hit).
 * Allocation takes the head of the queue; blocks that hold no cached prefix are put at the head
 * (reused first) and cached blocks at the tail, so cached blocks are evicted least recently used first.
 * Not thread-safe: only the engine's step thread uses it.
 */
public final class BlockPool {

    private static final int NONE = -1;

    private final int numBlocks;
    private final int[] refCounts;           // [numBlocks]
    private final BlockHash[] hashes;        // [numBlocks] cached content hash, or null
    private final Map<BlockHash, Integer> cache = new HashMap<>();
    // Free queue as an intrusive doubly linked list over block ids; head is evicted first.
    private final int[] prev;
    private final int[] next;
    private final boolean[] inQueue;
    private int head = NONE;
    private int tail = NONE;
    private int numFree;
    private long evictions;

    public BlockPool(int numBlocks) {
        if (numBlocks <= 0) {
            throw new IllegalArgumentException("a KV block pool needs at least one block, got " + numBlocks);
        }
        this.numBlocks = numBlocks;
        this.refCounts = new int[numBlocks];
        this.hashes = new BlockHash[numBlocks];
        this.prev = new int[numBlocks];
        this.next = new int[numBlocks];
        this.inQueue = new boolean[numBlocks];
        for (int b = 0; b < numBlocks; b++) {
            appendTail(b);
        }
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** Blocks with no reference (including cached ones that may still be reused). */
    public int numFree() {
        return numFree;
    }

    public int numUsed() {
        return numBlocks - numFree;
    }

    /** Blocks whose contents are registered in the prefix cache (referenced or not). */
    public int numCached() {
        return cache.size();
    }

    /** Cached blocks that were handed out for new contents. */
    public long evictions() {
        return evictions;
    }

    public int refCount(int block) {
        return refCounts[block];
    }

    /** The block that holds {@code hash}'s contents, or -1. */
    public int lookup(BlockHash hash) {
        Integer b = cache.get(hash);
        return b == null ? NONE : b;
    }

    /** Takes a free block for new contents (evicting its cached identity); -1 when none is free. */
    public int allocate() {
        int b = head;
        if (b == NONE) {
            return NONE;
        }
        unlink(b);
        if (hashes[b] != null) {
            cache.remove(hashes[b]);
            hashes[b] = null;
            evictions++;
        }
        refCounts[b] = 1;
        return b;
    }

    /** Adds a reference to a cached block (taking it out of the free queue if nobody held it). */
    public void acquire(int block) {
        if (refCounts[block]++ == 0) {
            unlink(block);
        }
    }

    /** Drops one reference; an unreferenced block goes back to the free queue. */
    public void release(int block) {
        if (refCounts[block] <= 0) {
            throw new IllegalStateException("KV block " + block + " released more often than acquired");
        }
        if (--refCounts[block] == 0) {
            if (hashes[block] != null) {
                appendTail(block);
            } else {
                prependHead(block);
            }
        }
    }

    /**
     * Registers a full block's contents in the prefix cache. If another block already holds the same
     * contents (two sequences computed the same prefix at once) the existing entry stays.
     */
    public void cache(int block, BlockHash hash) {
        if (hashes[block] != null || cache.containsKey(hash)) {
            return;
        }
        hashes[block] = hash;
        cache.put(hash, block);
    }

    private void unlink(int b) {
        if (!inQueue[b]) {
            throw new IllegalStateException("KV block " + b + " is not in the free queue");
        }
        int p = prev[b];
        int n = next[b];
        if (p == NONE) {
            head = n;
        } else {
            next[p] = n;
        }
        if (n == NONE) {
            tail = p;
        } else {
            prev[n] = p;
        }
        inQueue[b] = false;
        numFree--;
    }

    private void appendTail(int b) {
        prev[b] = tail;
        next[b] = NONE;
        if (tail == NONE) {
            head = b;
        } else {
            next[tail] = b;
        }
        tail = b;
        inQueue[b] = true;
        numFree++;
    }

    private void prependHead(int b) {
        prev[b] = NONE;
        next[b] = head;
        if (head == NONE) {
            tail = b;
        } else {
            prev[head] = b;
        }
        head = b;
        inQueue[b] = true;
        numFree++;
    }
}
