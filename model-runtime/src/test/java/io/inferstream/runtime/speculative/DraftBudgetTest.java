package io.inferstream.runtime.speculative;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class DraftBudgetTest {

    /** Steps skipped before {@code b} lets a guess run again. */
    private static int skipped(DraftBudget b) {
        int n = 0;
        while (!b.take()) {
            n++;
        }
        return n;
    }

    @Test
    void keptGuessesWidenTheLimitAndARejectionNarrowsItToWhatWasKeptPlusOne() {
        DraftBudget b = new DraftBudget(8);
        assertEquals(8, b.limit(), "a new sequence may guess the most");
        b.record(8, 3);
        assertEquals(4, b.limit());
        b.record(4, 4);
        assertEquals(8, b.limit(), "all kept: doubled");
        b.record(8, 8);
        assertEquals(8, b.limit(), "never past the most");
        b.record(0, 0);
        assertEquals(8, b.limit(), "a step without guesses tells nothing");
        assertTrue(b.take());
    }

    @Test
    void missesInARowSkipTwiceAsManyStepsEachUpToSixteenAndAKeptGuessEndsTheRun() {
        DraftBudget b = new DraftBudget(4);
        int[] expected = {1, 2, 4, 8, 16, 16};
        for (int miss = 0; miss < expected.length; miss++) {
            b.record(b.limit(), 0);
            assertEquals(1, b.limit());
            assertEquals(expected[miss], skipped(b), "after miss " + (miss + 1));
        }
        b.record(1, 1);
        assertEquals(2, b.limit());
        b.record(2, 0);
        assertEquals(1, skipped(b), "a kept guess started the count again");
    }
}
