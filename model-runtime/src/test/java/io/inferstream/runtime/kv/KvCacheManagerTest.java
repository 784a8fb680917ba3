package io.inferstream.runtime.kv;

import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class KvCacheManagerTest {

    private static int[] range(int from, int to) {
        return IntStream.range(from, to).toArray();
    }

    private static int[] concat(int[] a, int[] b) {
        return IntStream.concat(IntStream.of(a), IntStream.of(b)).toArray();
    }

    @Test
    void sequencesSharingAPrefixShareItsFullBlocks() {
        KvCacheManager kv = new KvCacheManager(16, 4, true);
        int[] preamble = range(100, 110); // 10 tokens: 2 full blocks + 2 tokens
        int[] a = concat(preamble, new int[] {1, 2, 3});
        int[] b = concat(preamble, new int[] {4, 5, 6, 7});

        assertEquals(0, kv.findCachedPrefix(a, a.length - 1).tokens());
        assertTrue(kv.allocate(1, null, a.length));
        kv.cacheFullBlocks(1, a, a.length);

        CachedPrefix hit = kv.findCachedPrefix(b, b.length - 1);
        assertEquals(8, hit.tokens(), "the two full preamble blocks are cached; the third differs");
        int[] tableA = kv.blockTable(1);
        assertArrayEquals(new int[] {tableA[0], tableA[1]}, hit.blocks());
        int usedBefore = kv.numUsedBlocks();
        assertTrue(kv.allocate(2, hit, b.length));
        int[] tableB = kv.blockTable(2);
        assertEquals(4, tableB.length, "14 tokens need 4 blocks of 4");
        assertEquals(tableA[0], tableB[0]);
        assertEquals(tableA[1], tableB[1]);
        assertNotEquals(tableA[2], tableB[2]);
        assertEquals(usedBefore + 2, kv.numUsedBlocks(), "only the blocks after the shared two are new");
    }

    @Test
    void tokensWhoseLogitsAreWantedAreNotServedFromTheCache() {
        KvCacheManager kv = new KvCacheManager(8, 4, true);
        int[] prompt = range(0, 8); // exactly two blocks
        assertTrue(kv.allocate(1, null, 8));
        kv.cacheFullBlocks(1, prompt, 8);
        // The same prompt again: its last token must be recomputed, so only the first block is usable.
        assertEquals(4, kv.findCachedPrefix(prompt, prompt.length - 1).tokens());
        assertEquals(8, kv.findCachedPrefix(prompt, prompt.length).tokens());
    }

    @Test
    void allocationIsAllOrNothing() {
        KvCacheManager kv = new KvCacheManager(3, 4, true);
        assertTrue(kv.allocate(1, null, 8));
        assertFalse(kv.allocate(2, null, 8), "needs 2 blocks, 1 free");
        assertEquals(1, kv.numFreeBlocks());
        assertEquals(0, kv.blockTable(2).length);
        assertTrue(kv.allocate(2, null, 4));
        assertTrue(kv.allocate(1, null, 8), "already holds enough blocks");
        assertFalse(kv.allocate(1, null, 9));
    }

    @Test
    void unreferencedCachedBlocksCountAgainstFreeBlocksWhenTaken() {
        KvCacheManager kv = new KvCacheManager(3, 4, true);
        int[] p = range(0, 9);
        assertTrue(kv.allocate(1, null, 9));
        kv.cacheFullBlocks(1, p, 9);
        kv.free(1);
        assertEquals(3, kv.numFreeBlocks());
        CachedPrefix hit = kv.findCachedPrefix(p, 8);
        assertEquals(8, hit.tokens());
        // 2 cached blocks come out of the free queue plus 2 new ones for 13 tokens: 4 > 3.
        assertFalse(kv.allocate(2, hit, 13));
        assertEquals(3, kv.numFreeBlocks());
        assertTrue(kv.allocate(2, hit, 12));
        assertEquals(0, kv.numFreeBlocks());
    }

    @Test
    void freedPrefixIsReusedUntilEvictedForNewContents() {
        KvCacheManager kv = new KvCacheManager(2, 4, true);
        int[] p = range(0, 5);
        assertTrue(kv.allocate(1, null, 5));
        kv.cacheFullBlocks(1, p, 5);
        kv.free(1);
        assertEquals(4, kv.findCachedPrefix(p, 4).tokens());
        // Another sequence needs both blocks: the uncached one goes first, then the cached one is evicted.
        assertTrue(kv.allocate(2, null, 8));
        assertEquals(0, kv.findCachedPrefix(p, 4).tokens());
        assertEquals(1, kv.evictions());
    }

    @Test
    void hitRateCountsQueriedAndHitTokens() {
        KvCacheManager kv = new KvCacheManager(8, 4, true);
        int[] p = range(0, 9);
        kv.recordLookup(9, kv.findCachedPrefix(p, 8));
        assertTrue(kv.allocate(1, null, 9));
        kv.cacheFullBlocks(1, p, 9);
        CachedPrefix hit = kv.findCachedPrefix(p, 8);
        kv.recordLookup(9, hit);
        assertEquals(18, kv.queriedTokens());
        assertEquals(8, kv.hitTokens());
        assertEquals(4, kv.queriedBlocks());
        assertEquals(2, kv.hitBlocks());
    }

    @Test
    void disabledPrefixCachingNeverHits() {
        KvCacheManager kv = new KvCacheManager(8, 4, false);
        int[] p = range(0, 9);
        assertTrue(kv.allocate(1, null, 9));
        kv.cacheFullBlocks(1, p, 9);
        assertEquals(0, kv.findCachedPrefix(p, 8).tokens());
    }
}
