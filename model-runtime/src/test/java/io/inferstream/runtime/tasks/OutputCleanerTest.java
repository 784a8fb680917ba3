package io.inferstream.runtime.tasks;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class OutputCleanerTest {

    @Test
    void aRepeatedCueAndAnEchoedInputAreRemovedAndTheAnswerTrimmed() {
        assertEquals("Tom lost his ball.", OutputCleaner.clean("  Tom lost his ball. \n", "Summary:", "Tom had a ball.", true));
        assertEquals("Tom lost his ball.", OutputCleaner.clean(" Summary: Tom lost his ball.", "Summary:", "Tom had a ball.", true));
        assertEquals("Le chat.", OutputCleaner.clean(" The cat.\nFrench: Le chat.", "French:", "The cat.", true),
                "the model echoed the input, then answered after the cue");
    }

    @Test
    void aPlainAnswerEndsAtABlankLineAChatAnswerKeepsItsParagraphs() {
        assertEquals("First part.", OutputCleaner.clean("First part.\n\nSomething else.", "", null, true));
        assertEquals("First part.\n\nSecond part.", OutputCleaner.clean("First part.\n\nSecond part.\n", "", null, false));
    }
}
