package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.testing.SharedModels;

/** Token-by-token decoding never emits half a UTF-8 character, and adds up to the whole decode. */
class StreamingDecoderTest {

    static final String TEXT = "Hi 🦙 我想在apple工作 😶‍🌫️ ½ кириллица";

    static void assertStreamsCleanly(Tokenizer tokenizer, int[] ids, String expected) {
        StreamingDecoder decoder = tokenizer.streamingDecoder();
        StringBuilder sb = new StringBuilder();
        List<String> chunks = new ArrayList<>();
        for (int id : ids) {
            String chunk = decoder.accept(id);
            assertFalse(chunk.contains("\uFFFD"), "chunk after token " + id + " holds a broken character: " + chunk);
            chunks.add(chunk);
            sb.append(chunk);
        }
        sb.append(decoder.flush());
        assertEquals(expected, sb.toString());
        assertTrue(chunks.stream().anyMatch(String::isEmpty), "some token must have ended inside a character");
    }

    @Test
    void byteFallbackTokensAreHeldUntilTheCharacterIsComplete() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"))) {
            Tokenizer llama = Tokenizers.fromGguf(gguf);
            // Streaming keeps the dummy-prefix space of the first piece (generation continues after a prompt).
            assertStreamsCleanly(llama, llama.encode(TEXT, false, false), " " + TEXT);
        }
    }

    @Test
    void byteLevelTokensSplittingCharactersAreHeldBack() {
        Tokenizer gpt2 = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/gpt2"));
        assertStreamsCleanly(gpt2, gpt2.encode(TEXT, false, false), TEXT);
    }

    @Test
    void flushReturnsAnUnfinishedCharacterLeniently() {
        Tokenizer gpt2 = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/gpt2"));
        byte[] llamaEmoji = "🦙".getBytes(StandardCharsets.UTF_8);
        StreamingDecoder decoder = gpt2.streamingDecoder();
        // GPT-2's single-byte tokens: feed only the first three bytes of the four-byte emoji.
        for (int i = 0; i < 3; i++) {
            int id = ((ByteLevelBpeTokenizer) gpt2).vocabulary().id(String.valueOf(ByteUnicode.charOf(llamaEmoji[i])));
            assertEquals("", decoder.accept(id));
        }
        assertEquals("\uFFFD", decoder.flush());
    }
}
