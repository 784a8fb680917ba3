package io.inferstream.runtime.kv;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class BlockPoolTest {

    private static BlockHash hashOf(int... tokens) {
        return BlockHash.of(null, tokens, 0, tokens.length);
    }

    @Test
    void handsOutEveryBlockExactlyOnceThenRunsOut() {
        BlockPool pool = new BlockPool(5);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 5; i++) {
            int b = pool.allocate();
            assertTrue(b >= 0 && b < 5);
            assertTrue(seen.add(b), "block " + b + " handed out twice");
        }
        assertEquals(-1, pool.allocate());
        assertEquals(0, pool.numFree());
        assertEquals(5, pool.numUsed());
    }

    @Test
    void releasedCachedBlockIsFoundAgainUntilItIsReused() {
        BlockPool pool = new BlockPool(2);
        int a = pool.allocate();
        BlockHash h = hashOf(1, 2, 3, 4);
        pool.cache(a, h);
        pool.release(a);
        assertEquals(a, pool.lookup(h), "an unreferenced cached block keeps its contents");
        pool.acquire(a);
        assertEquals(1, pool.refCount(a));
        assertEquals(1, pool.numFree());
        pool.release(a);
        // Two allocations take both blocks: the cached one is evicted (its identity dropped).
        pool.allocate();
        pool.allocate();
        assertEquals(-1, pool.lookup(h));
        assertEquals(1, pool.evictions());
    }

    @Test
    void evictsLeastRecentlyReleasedCachedBlockFirst() {
        BlockPool pool = new BlockPool(3);
        int a = pool.allocate();
        int b = pool.allocate();
        int c = pool.allocate();
        BlockHash ha = hashOf(1);
        BlockHash hb = hashOf(2);
        BlockHash hc = hashOf(3);
        pool.cache(a, ha);
        pool.cache(b, hb);
        pool.cache(c, hc);
        pool.release(b);
        pool.release(a);
        pool.release(c);
        assertEquals(b, pool.allocate(), "b was released first, so it is the least recently used");
        assertEquals(-1, pool.lookup(hb));
        assertEquals(a, pool.lookup(ha));
        assertEquals(c, pool.lookup(hc));
    }

    @Test
    void blocksWithoutCachedContentsAreReusedBeforeCachedOnes() {
        BlockPool pool = new BlockPool(2);
        int cached = pool.allocate();
        int plain = pool.allocate();
        BlockHash h = hashOf(7, 7);
        pool.cache(cached, h);
        pool.release(cached);
        pool.release(plain);
        assertEquals(plain, pool.allocate());
        assertEquals(cached, pool.lookup(h));
    }

    @Test
    void releasingAnUnreferencedBlockIsAnError() {
        BlockPool pool = new BlockPool(1);
        int a = pool.allocate();
        pool.release(a);
        assertThrows(IllegalStateException.class, () -> pool.release(a));
    }

    @Test
    void sameTokensAfterDifferentPrefixesHashDifferently() {
        int[] x = {1, 2, 3, 4, 9, 9, 9, 9};
        int[] y = {5, 6, 7, 8, 9, 9, 9, 9};
        BlockHash x1 = BlockHash.of(null, x, 0, 4);
        BlockHash y1 = BlockHash.of(null, y, 0, 4);
        assertNotEquals(BlockHash.of(x1, x, 4, 4), BlockHash.of(y1, y, 4, 4));
        assertEquals(BlockHash.of(x1, x, 4, 4), BlockHash.of(BlockHash.of(null, x.clone(), 0, 4), x.clone(), 4, 4));
    }
}
