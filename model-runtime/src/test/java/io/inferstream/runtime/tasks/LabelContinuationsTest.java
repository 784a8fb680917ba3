package io.inferstream.runtime.tasks;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Label tokens as they follow the prompt, on the Llama 2 SentencePiece vocabulary (whose tokenizer matches
 * llama.cpp's vectors), where "▁Positive" (after a space) and "Positive" (after a newline) tokenize differently.
 */
class LabelContinuationsTest {

    private static GgufFile vocab;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        vocab = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
        tokenizer = Tokenizers.fromGguf(vocab);
    }

    @AfterAll
    static void close() {
        if (vocab != null) { // null: load() was skipped (no shared data here)
            vocab.close();
        }
    }

    private static int[] concat(int[] a, int[] b) {
        return IntStream.concat(IntStream.of(a), IntStream.of(b)).toArray();
    }

    private static void assertJointTokenization(TaskPrompt prompt, List<String> labels, LabelContinuations lc) {
        int[] promptTokens = tokenizer.encode(prompt.text(), prompt.addBos(), false);
        assertArrayEquals(Arrays.copyOf(promptTokens, lc.prefix().length), lc.prefix(), "the shared prefix starts the prompt");
        for (int l = 0; l < labels.size(); l++) {
            int[] joint = tokenizer.encode(prompt.text() + prompt.answerJoiner() + labels.get(l), prompt.addBos(), false);
            assertArrayEquals(joint, concat(lc.prefix(), lc.continuations()[l]), "prefix + continuation of " + labels.get(l));
        }
    }

    @Test
    void aLabelAfterASpaceIsScoredWithTheWordStartPiece() {
        TaskPrompt prompt = new TaskPrompt("Review: great phone.\nLabel:", true, false, " ", "Label:", List.of());
        List<String> labels = List.of("Positive", "Negative");
        LabelContinuations lc = LabelContinuations.of(tokenizer, prompt, labels);
        assertJointTokenization(prompt, labels, lc);
        assertArrayEquals(tokenizer.encode(prompt.text(), true, false), lc.prefix(), "nothing merges across ':' + ' '");
        for (int l = 0; l < labels.size(); l++) {
            int[] c = lc.continuations()[l];
            assertTrue(tokenizer.piece(c[0]).startsWith("\u2581"), "first piece of " + labels.get(l) + ": " + tokenizer.piece(c[0]));
            assertEquals(prompt.text() + " " + labels.get(l), tokenizer.decode(concat(lc.prefix(), c)));
        }
    }

    @Test
    void aLabelAfterANewlineIsNotTokenizedAsAWordStart() {
        // As after a chat template's assistant header: the answer starts the line, with no space before it.
        TaskPrompt prompt = new TaskPrompt("Review: great phone.\nAnswer:\n", true, false, "", "", List.of());
        List<String> labels = List.of("Positive", "Negative");
        LabelContinuations lc = LabelContinuations.of(tokenizer, prompt, labels);
        assertJointTokenization(prompt, labels, lc);
        for (int l = 0; l < labels.size(); l++) {
            int[] c = lc.continuations()[l];
            assertFalse(tokenizer.piece(c[0]).startsWith("\u2581"), "first piece of " + labels.get(l) + ": " + tokenizer.piece(c[0]));
            assertEquals(labels.get(l), tokenizer.decode(c).strip());
            // Tokenizing the label alone would give the word-start spelling ("▁Positive"), a different sequence.
            int[] alone = tokenizer.encode(labels.get(l), false, false);
            assertTrue(tokenizer.piece(alone[0]).startsWith("\u2581"));
            assertFalse(Arrays.equals(alone, c), "in-context tokens differ from the label tokenized alone");
        }
    }

    @Test
    void aMergeAcrossThePromptEndMovesTheBoundaryTokensIntoEveryContinuation() {
        // The prompt ends inside a word: each label completes it, so the prompt's last piece is not shared.
        TaskPrompt prompt = new TaskPrompt("The mood of the review is pos", true, false, "", "", List.of());
        List<String> labels = List.of("itive", "sessive");
        LabelContinuations lc = LabelContinuations.of(tokenizer, prompt, labels);
        assertJointTokenization(prompt, labels, lc);
        int[] promptTokens = tokenizer.encode(prompt.text(), true, false);
        assertTrue(lc.prefix().length < promptTokens.length, "the boundary piece '" + tokenizer.piece(promptTokens[promptTokens.length - 1])
                + "' is re-spelled by the labels");
        assertEquals(lc.prefix().length + lc.continuations()[0].length - 1 + lc.continuations()[1].length - 1, lc.scoredTokens());
    }
}
