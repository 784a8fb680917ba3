package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** How the tiled prefill attention cuts a step into items and which steps and models it takes (no GPU needed). */
class TiledAttentionTest {

    @Test
    void itemsAreRunsOfOneSequenceCutWhenFull() {
        // sequence 0: positions 10..14; sequence 1: a decode token; sequence 0 again after a gap; sequence 2: 0..2
        int[] seq = {0, 0, 0, 0, 0, 1, 0, 2, 2, 2};
        int[] pos = {10, 11, 12, 13, 14, 7, 20, 0, 1, 2};
        assertArrayEquals(new int[] {0, 2, 2, 2, 4, 1, 5, 1, 6, 1, 7, 2, 9, 1},
                TiledAttention.plan(seq, pos, seq.length, 2));
        assertArrayEquals(new int[] {0, 5, 5, 1, 6, 1, 7, 3}, TiledAttention.plan(seq, pos, seq.length, 16));
    }

    @Test
    void aPositionGapInOneSequenceStartsANewItem() {
        assertArrayEquals(new int[] {0, 2, 2, 1}, TiledAttention.plan(new int[3], new int[] {4, 5, 7}, 3, 16));
    }

    @Test
    void itemsCoverEveryTokenOnceInOrder() {
        int n = 300;
        int[] seq = new int[n];
        int[] pos = new int[n];
        for (int t = 0; t < n; t++) {
            seq[t] = t < 250 ? 0 : t - 249; // a 250-token chunk, then 50 decode tokens
            pos[t] = t < 250 ? 1000 + t : 3;
        }
        int[] items = TiledAttention.plan(seq, pos, n, 16);
        int next = 0;
        for (int i = 0; i < items.length; i += 2) {
            assertEquals(next, items[i]);
            assertTrue(items[i + 1] >= 1 && items[i + 1] <= 16);
            next += items[i + 1];
        }
        assertEquals(n, next);
        assertEquals(2 * (16 + 50), items.length); // 250 = 15 x 16 + 10
    }

    @Test
    void onlyStepsWithARunOfSixteenTokensAreWorthIt() {
        int[] seq = new int[16];
        int[] pos = new int[16];
        for (int t = 0; t < 16; t++) {
            pos[t] = 100 + t;
        }
        assertTrue(TiledAttention.worthIt(seq, pos, 16));
        assertFalse(TiledAttention.worthIt(seq, pos, 15));
        int[] decode = new int[64];
        int[] decodeSeq = new int[64];
        for (int t = 0; t < 64; t++) {
            decodeSeq[t] = t;
            decode[t] = 500;
        }
        assertFalse(TiledAttention.worthIt(decodeSeq, decode, 64)); // a decode step: the split kernel's
        pos[8] = 300; // a gap in the middle: two runs of 8
        assertFalse(TiledAttention.worthIt(seq, pos, 16));
    }

    @Test
    void servesHeadsOf64And128WithGroupsUpTo64() {
        assertNull(TiledAttention.unsupported(32, 8, 64));   // Llama-3.2-1B
        assertNull(TiledAttention.unsupported(32, 8, 128));  // Llama-3.1-8B
        assertNull(TiledAttention.unsupported(14, 2, 64));   // Qwen2-0.5B: groups of 7
        assertEquals(9, new TiledAttention(14, 2, 64).tokensPerItem()); // 63 of the 64 rows
        assertEquals(21, new TiledAttention(9, 3, 64).tokensPerItem()); // SmolLM2-135M
        assertTrue(TiledAttention.unsupported(8, 4, 8).contains("head size 8"));     // stories260K: the split kernel
        assertTrue(TiledAttention.unsupported(24, 8, 96).contains("head size 96"));
        assertTrue(TiledAttention.unsupported(12, 5, 64).contains("12 query heads over 5 KV heads"));
        assertThrows(IllegalArgumentException.class, () -> new TiledAttention(32, 8, 80));
    }
}
