package io.inferstream.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class StopCheckerTest {

    @Test
    void stopStringSpanningPiecesIsCutOffAndNeverReleased() {
        StopChecker c = new StopChecker(SamplingParams.greedy(8).withStopStrings(List.of("\n\nUser:")), null);
        StringBuilder released = new StringBuilder();
        for (String piece : new String[] {"Hello", " there.", "\n", "\nUs", "er: more"}) {
            released.append(c.accept(piece));
        }
        assertTrue(c.stopped());
        assertEquals("Hello there.", released.toString());
        assertEquals("Hello there.", c.text());
        assertEquals("", c.accept("ignored after stop"));
    }

    @Test
    void heldBackTextIsReleasedWhenItTurnsOutNotToBeAStopString() {
        StopChecker c = new StopChecker(SamplingParams.greedy(8).withStopStrings(List.of("END", "xyz")), null);
        assertEquals("a", c.accept("aE"));
        assertEquals("", c.accept("N"));
        assertEquals("ENough", c.accept("ough"));
        assertEquals("", c.accept("x"));
        assertFalse(c.stopped());
        assertEquals("x", c.finish());
        assertEquals("aENoughx", c.text());
    }

    @Test
    void earliestStopStringInsideOnePieceWins() {
        StopChecker c = new StopChecker(SamplingParams.greedy(8).withStopStrings(List.of("b", "cd")), null);
        assertEquals("a", c.accept("acdb"));
        assertTrue(c.stopped());
        assertEquals("a", c.text());
    }

    @Test
    void requestedStopTokensEndGeneration() {
        StopChecker c = new StopChecker(SamplingParams.greedy(8).withStopTokens(List.of(13, 7)), null);
        assertTrue(c.isStopToken(7));
        assertTrue(c.isStopToken(13));
        assertFalse(c.isStopToken(8));
    }
}
