package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;
import org.junit.jupiter.api.Test;

/** The metadata a GPU step uploads, and the steps refused before it is: on the host, no GPU needed. */
class StepMetadataTest {

    /** 2 layers, 2 KV heads of 16 (kvDim 32), a vocabulary of 300. */
    private static final ModelConfig CONFIG = new ModelConfig("llama", 64, 96, 2, 4, 2, 16, 300, 256, 1e-5f, 10000f, false, null);
    private static final int BLOCK = 16;

    private static KvStore store(int blocks) {
        return new KvStore(2, 32, blocks, BLOCK, KvStore.Precision.F32);
    }

    @Test
    void eachPartLiesWhereTheStepShapeSaysAndSlotsAreTheCacheRowsOfThePositions() {
        // sequence 0 prefills positions 15 and 16 (blocks 3 and 7 of the store), sequence 1 decodes position 4 (block 5)
        TokenBatch batch = new TokenBatch(new int[] {11, 12, 13}, new int[] {15, 16, 4}, new int[] {0, 0, 1},
                new int[][] {{3, 7}, {5}}, new int[] {1, 2});
        int[] items = {0, 2};
        StepMetadata meta = StepMetadata.of(batch, BLOCK, items);
        StepShape s = meta.shape();
        assertEquals(new StepShape(3, 2, 2, 1), s);
        int[] expected = {
            11, 12, 13,          // tokens
            15, 16, 4,           // positions
            0, 0, 1,             // sequences
            3 * 16 + 15, 7 * 16, 5 * 16 + 4, // KV slots: block * 16 + position % 16
            1, 2,                // logit rows
            0, 2,                // the tiled attention's item
            3, 7, 5, 0};         // block tables, the short one padded
        assertArrayEquals(expected, meta.ints(), Arrays.toString(meta.ints()));
        // the offsets the step's kernels are given (bytes)
        assertEquals(0, s.tokensAt());
        assertEquals(4 * 3, s.positionsAt());
        assertEquals(4 * 6, s.seqAt());
        assertEquals(4 * 9, s.slotsAt());
        assertEquals(4 * 12, s.logitRowsAt());
        assertEquals(4 * 14, s.itemsAt());
        assertEquals(4 * 16, s.tablesAt());
    }

    @Test
    void aStepWithoutTiledItemsHasItsTablesRightAfterTheLogitRows() {
        TokenBatch batch = new TokenBatch(new int[] {7}, new int[] {33}, new int[] {0}, new int[][] {{1, 2, 4}}, new int[] {0});
        StepMetadata meta = StepMetadata.of(batch, BLOCK, new int[0]);
        assertEquals(new StepShape(1, 1, 3, 0), meta.shape());
        assertArrayEquals(new int[] {7, 33, 0, 4 * 16 + 1, 0, 1, 2, 4}, meta.ints());
    }

    @Test
    void aValidStepPasses() {
        TokenBatch batch = new TokenBatch(new int[] {0, 299}, new int[] {0, 31}, new int[] {0, 1}, new int[][] {{0}, {1, 7}},
                new int[] {0, 1});
        assertDoesNotThrow(() -> StepMetadata.validate(batch, store(8), CONFIG));
    }

    @Test
    void stepsTheKernelsCannotRunAreRefusedWithWhatIsWrong() {
        int[][] tables = {{0, 1}};
        assertRefused("KV store of 3 layers x 32 does not fit this model (2 layers x 32)",
                new TokenBatch(new int[] {1}, new int[] {0}, new int[] {0}, tables, new int[] {0}),
                new KvStore(3, 32, 8, BLOCK, KvStore.Precision.F32));
        assertRefused("empty batch", new TokenBatch(new int[0], new int[0], new int[0], tables, new int[0]), store(8));
        assertRefused("logit row 1 is not one of the batch's 1 tokens",
                new TokenBatch(new int[] {1}, new int[] {0}, new int[] {0}, tables, new int[] {1}), store(8));
        assertRefused("token 300 at batch index 1 is outside the vocabulary of 300",
                new TokenBatch(new int[] {1, 300}, new int[] {0, 1}, new int[] {0, 0}, tables, new int[] {1}), store(8));
        assertRefused("sequence 1 of batch index 0 has no block table",
                new TokenBatch(new int[] {1}, new int[] {0}, new int[] {1}, tables, new int[] {0}), store(8));
        assertRefused("position 32 of sequence 0 has no KV block in its block table of 2 blocks",
                new TokenBatch(new int[] {1}, new int[] {32}, new int[] {0}, tables, new int[] {0}), store(8));
        // position 17 reads blocks 0 and 1; block 8 is past a store of 8
        assertRefused("block table of sequence 0 names block 8 at index 1; the store has 8 blocks",
                new TokenBatch(new int[] {1}, new int[] {17}, new int[] {0}, new int[][] {{0, 8}}, new int[] {0}), store(8));
        assertRefused("block table of sequence 0 names block -1 at index 0; the store has 8 blocks",
                new TokenBatch(new int[] {1}, new int[] {3}, new int[] {0}, new int[][] {{-1}}, new int[] {0}), store(8));
    }

    private static void assertRefused(String message, TokenBatch batch, KvStore kv) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StepMetadata.validate(batch, kv, CONFIG));
        assertEquals(message, e.getMessage());
    }
}
