package io.inferstream.runtime.speculative;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PromptLookupProposerTest {

    @Test
    void proposesWhatFollowedTheLongestEarlierOccurrenceOfTheLastTokens() {
        // ... 5 6 7 8 9 ... 1 6 7 10 11 ... 6 7 : the bigram 6 7 occurs twice, the trigram 5 6 7 once (at the start)
        int[] t = {5, 6, 7, 8, 9, 1, 6, 7, 10, 11, 2, 5, 6, 7};
        assertArrayEquals(new int[] {8, 9, 1}, PromptLookupProposer.propose(t, t.length, 2, 4, 3),
                "the trigram 5 6 7 wins over the later bigram 6 7");
        assertArrayEquals(new int[] {10, 11, 2}, PromptLookupProposer.propose(t, t.length, 2, 2, 3),
                "with bigrams only, the latest occurrence: 6 7 10 11");
    }

    @Test
    void proposesAtMostWhatIsAskedAndWhatTheSequenceHas() {
        int[] t = {1, 2, 3, 4, 1, 2};
        assertArrayEquals(new int[] {3}, PromptLookupProposer.propose(t, t.length, 2, 4, 1));
        assertArrayEquals(new int[] {3, 4, 1, 2, 3, 4, 1}, PromptLookupProposer.propose(t, t.length, 2, 4, 7),
                "past the end of the sequence, the guesses continue the period of the match (4)");
        assertSame(PromptLookupProposer.NONE, PromptLookupProposer.propose(t, t.length, 2, 4, 0));
    }

    @Test
    void aRepeatedTokenProposesMoreOfItAndNoMatchProposesNothing() {
        int[] run = {9, 4, 4, 4};
        assertArrayEquals(new int[] {4, 4, 4, 4, 4}, PromptLookupProposer.propose(run, run.length, 2, 3, 5),
                "4 4 matched one position earlier: a period of one");
        int[] fresh = {1, 2, 3, 4, 5, 6};
        assertSame(PromptLookupProposer.NONE, PromptLookupProposer.propose(fresh, fresh.length, 2, 4, 5));
        assertSame(PromptLookupProposer.NONE, PromptLookupProposer.propose(fresh, fresh.length, 1, 4, 5),
                "no token occurs twice");
        int[] shortOne = {7, 7};
        assertSame(PromptLookupProposer.NONE, PromptLookupProposer.propose(shortOne, 2, 2, 4, 5),
                "two tokens hold no earlier bigram");
        assertArrayEquals(new int[] {7, 7, 7, 7, 7}, PromptLookupProposer.propose(shortOne, 2, 1, 4, 5));
    }

    @Test
    void onlyTheValidPartOfTheArrayIsRead() {
        int[] t = {1, 2, 3, 1, 2, 99, 99, 99};
        assertArrayEquals(new int[] {3, 1, 2, 3, 1}, PromptLookupProposer.propose(t, 5, 2, 4, 5));
    }

    @Test
    void speculationGuessesOnlyWhenOnWithinItsLimitsAndSmallBatches() {
        int[] t = {1, 2, 3, 4, 1, 2};
        Speculation s = new Speculation(2, 2, 3, 4);
        assertArrayEquals(new int[] {3, 4}, s.propose(t, t.length, 10, 1, s.newBudget()));
        assertArrayEquals(new int[] {3}, s.propose(t, t.length, 1, 1, s.newBudget()), "the room before the token limit");
        assertSame(PromptLookupProposer.NONE, s.propose(t, t.length, 10, 5, s.newBudget()), "five sequences running, more than four");
        assertSame(PromptLookupProposer.NONE, Speculation.OFF.propose(t, t.length, 10, 1, Speculation.OFF.newBudget()));
        DraftBudget missed = s.newBudget();
        missed.record(2, 0);
        assertSame(PromptLookupProposer.NONE, s.propose(t, t.length, 10, 1, missed), "the step after a miss is skipped");
        assertArrayEquals(new int[] {3}, s.propose(t, t.length, 10, 1, missed), "then one guess");
        assertFalse(Speculation.OFF.enabled());
        assertTrue(Speculation.ofTokens(3).enabled());
    }

    @Test
    void settingsOutOfRangeAreRefusedNamingTheFlag() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Speculation(-1, 2, 4, 4)).getMessage()
                .contains("--speculative-tokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Speculation(4, 3, 2, 4)).getMessage()
                .contains("--prompt-lookup-min"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Speculation(4, 0, 2, 4)).getMessage()
                .contains("--prompt-lookup-min"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Speculation(4, 2, 4, 0)).getMessage()
                .contains("--speculative-max-sequences"));
    }
}
