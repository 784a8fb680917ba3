package io.inferstream.runtime.tasks;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SentenceChunkerTest {

    private static Tokenizer stories() {
        try (GgufFile f = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            return Tokenizers.fromGguf(f);
        }
    }

    @Test
    void chunksHoldWholeSentencesWithinTheTokenBudget() {
        Tokenizer tok = stories();
        List<String> sentences = List.of("Tom had a red ball.", "He liked to play with it in the park.", "One day the ball rolled away!",
                "Was it gone?", "No, a duck brought it back.", "Tom said thank you.");
        String text = String.join(" ", sentences);
        SentenceChunker chunker = new SentenceChunker(tok, "en");
        assertEquals(sentences, chunker.sentences(text).stream().map(String::strip).toList());
        int budget = 20;
        List<String> chunks = chunker.chunks(text, budget);
        assertTrue(chunks.size() > 1);
        for (String c : chunks) {
            assertTrue(tok.encode(c, false, false).length <= budget, c);
        }
        assertEquals(text, String.join(" ", chunks), "chunks are the sentences in order, none cut");
        int s = 0;
        for (String c : chunks) {
            StringBuilder expected = new StringBuilder(sentences.get(s++));
            while (expected.length() < c.length()) {
                expected.append(' ').append(sentences.get(s++));
            }
            assertEquals(expected.toString(), c);
        }
    }

    @Test
    void aSentenceOverTheBudgetIsSplitAtWordsAndAWordAtCharacters() {
        Tokenizer tok = stories();
        SentenceChunker chunker = new SentenceChunker(tok, "en");
        String sentence = "the little girl and the big dog ran and ran and ran all the way to the old red barn.";
        List<String> pieces = chunker.chunks(sentence, 6);
        assertTrue(pieces.size() > 2);
        pieces.forEach(p -> assertTrue(tok.encode(p, false, false).length <= 6, p));
        assertEquals(sentence, String.join(" ", pieces));
        String word = "x".repeat(40);
        List<String> parts = chunker.chunks(word, 5);
        parts.forEach(p -> assertTrue(tok.encode(p, false, false).length <= 5, p));
        assertEquals(word, String.join("", parts));
    }

    @Test
    void chineseTextIsSplitAtItsSentenceMarks() {
        Tokenizer tok = stories();
        SentenceChunker chunker = new SentenceChunker(tok, "zh");
        assertEquals(List.of("他每天骑自行车上班。", "今天下雨了！", "他坐公共汽车吗？"),
                chunker.sentences("他每天骑自行车上班。今天下雨了！他坐公共汽车吗？"));
    }
}
