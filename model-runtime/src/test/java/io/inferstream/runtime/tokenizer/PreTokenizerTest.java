package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The pre-tokenizer regexes behave like the reference (Python regex / Rust fancy-regex) versions where
 * java.util.regex differs by default: Unicode whitespace, supplementary characters, ASCII-only contractions.
 */
class PreTokenizerTest {

    @Test
    void unicodeWhitespaceIsWhitespaceNotPunctuation() {
        // With ASCII-only \s, U+2003 would be "punctuation" and glue onto "!"; as White_Space it stands alone.
        assertEquals(List.of("x", "\u2003", "\u2003", "!"), PreTokenizer.forName("gpt-2").split("x\u2003\u2003!"));
        assertEquals(List.of("a", "\u3000", "b"), PreTokenizer.forName("gpt-2").split("a\u3000b"));
    }

    @Test
    void supplementaryCharactersAreNeverSplitInHalf() {
        // 𝐀 (U+1D400) is a letter outside the BMP: one \p{L} code point, two Java chars.
        assertEquals(List.of("𝐀𝐁", " 🦙🦙"), PreTokenizer.forName("gpt-2").split("𝐀𝐁 🦙🦙"));
        assertEquals(List.of("𝐀𝐁", " 🦙🦙"), PreTokenizer.forName("llama-bpe").split("𝐀𝐁 🦙🦙"));
    }

    @Test
    void llama3ContractionsAreAsciiCaseInsensitiveAndDigitsGroupInThrees() {
        assertEquals(List.of("We", "'Ve", " a", "'lL"), PreTokenizer.forName("llama-bpe").split("We'Ve a'lL"));
        assertEquals(List.of("123", "456", "7"), PreTokenizer.forName("llama-bpe").split("1234567"));
        assertEquals(List.of("1", "2", "3"), PreTokenizer.forName("qwen2").split("123"));
        // GPT-2's contractions are lowercase only: "'Ve" is punctuation + letters.
        assertEquals(List.of("We", "'", "Ve"), PreTokenizer.forName("gpt-2").split("We'Ve"));
    }

    @Test
    void smollmIsolatesDigitsBeforeTheGpt2Split() {
        assertEquals(List.of("a", " ", "1", "2", " b"), PreTokenizer.forName("smollm").split("a 12 b"));
    }

    /** GPT-4o's regex against Python's regex module (reference/pretokenizer-gpt4o.json, written by the script beside it). */
    @Test
    void gpt4oSplitsAsTheReferenceRegexEngineDoes() throws java.io.IOException {
        try (java.io.InputStream in = getClass().getResourceAsStream("/reference/pretokenizer-gpt4o.json")) {
            com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
            assertEquals(root.path("pattern").asText(), PreTokenizer.GPT4O, "the pattern the reference ran");
            int cases = 0;
            for (com.fasterxml.jackson.databind.JsonNode c : root.path("cases")) {
                List<String> expected = new java.util.ArrayList<>();
                c.path("pieces").forEach(piece -> expected.add(piece.asText()));
                assertEquals(expected, PreTokenizer.forName("gpt-4o").split(c.path("text").asText()), c.path("text").asText());
                cases++;
            }
            assertEquals(15, cases);
        }
    }

    @Test
    void unknownPreTokenizerNameIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PreTokenizer.forName("chatglm-bpe"));
        assertTrue(e.getMessage().contains("chatglm-bpe"), e.getMessage());
    }
}
