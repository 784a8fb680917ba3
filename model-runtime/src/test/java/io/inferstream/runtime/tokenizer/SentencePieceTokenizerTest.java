package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.testing.SharedModels;

/** SentencePiece BPE details: BOS rules, special tokens, llama2.c's tok512.bin equal to the stories260K GGUF vocabulary. */
class SentencePieceTokenizerTest {

    static Tokenizer gguf(String relative) {
        try (GgufFile f = GgufFile.open(SharedModels.require(relative))) {
            return Tokenizers.fromGguf(f);
        }
    }

    @Test
    void llama2cTokenizerBinIsTheSameVocabularyAsStories260KGguf() {
        SentencePieceTokenizer fromGguf = (SentencePieceTokenizer) gguf("stories260K/stories260K.gguf");
        SentencePieceTokenizer fromBin = (SentencePieceTokenizer) Tokenizers.fromLlama2c(
                SharedModels.require("stories260K/tok512.bin"), 512);
        assertEquals(512, fromBin.vocabSize());
        for (int id = 0; id < 512; id++) {
            assertEquals(fromGguf.piece(id), fromBin.piece(id), "piece " + id);
            assertEquals(fromGguf.vocabulary().score(id), fromBin.vocabulary().score(id), "score " + id);
            assertEquals(fromGguf.vocabulary().type(id), fromBin.vocabulary().type(id), "type " + id);
        }
        assertEquals(fromGguf.bos(), fromBin.bos());
        assertEquals(fromGguf.eos(), fromBin.eos());
    }

    @Test
    void llama2cTokenizerBinEncodesLikeTheGgufVocabulary() {
        Tokenizer fromGguf = gguf("stories260K/stories260K.gguf");
        Tokenizer fromBin = Tokenizers.fromLlama2c(SharedModels.require("stories260K/tok512.bin"));
        List<String> texts = new ArrayList<>(LlamaCppVectors.load("llama-spm").inputs);
        texts.add("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.");
        for (String s : texts) {
            int[] expected = fromGguf.encode(s, true, false);
            assertArrayEquals(expected, fromBin.encode(s, true, false), LlamaCppVectors.quote(s));
            assertEquals(s, fromBin.decode(fromBin.encode(s, false, false)), LlamaCppVectors.quote(s));
        }
        int[] lily = fromBin.encode("Once upon a time");
        assertEquals(1, lily[0], "BOS first by default");
        assertTrue(fromBin.isEndOfGeneration(2));
    }

    @Test
    void sentencePieceModelFileIsTheSameVocabularyAndEncodesTheSame() {
        SentencePieceTokenizer fromGguf = (SentencePieceTokenizer) gguf("stories260K/stories260K.gguf");
        SentencePieceTokenizer fromModel = (SentencePieceTokenizer) Tokenizers.fromHuggingFace(
                SharedModels.require("stories260K/tok512.model"));
        assertEquals(512, fromModel.vocabSize());
        for (int id = 0; id < 512; id++) {
            assertEquals(fromGguf.piece(id), fromModel.piece(id), "piece " + id);
            assertEquals(fromGguf.vocabulary().score(id), fromModel.vocabulary().score(id), "score " + id);
            assertEquals(fromGguf.vocabulary().type(id), fromModel.vocabulary().type(id), "type " + id);
        }
        assertEquals(1, fromModel.bos());
        assertEquals(2, fromModel.eos());
        for (String s : LlamaCppVectors.load("llama-spm").inputs) {
            assertArrayEquals(fromGguf.encode(s, true, false), fromModel.encode(s, true, false), LlamaCppVectors.quote(s));
        }
    }

    @Test
    void llama2SpmAddsBosByDefaultAndEncodesHelloWorld() {
        Tokenizer llama = gguf("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
        assertTrue(llama.addBosByDefault());
        assertEquals(1, llama.bos());
        assertEquals(2, llama.eos());
        // "Hello world" -> 15043 3186 in the llama-spm vectors; the default adds BOS.
        assertArrayEquals(new int[] {1, 15043, 3186}, llama.encode("Hello world"));
        assertArrayEquals(new int[] {15043, 3186}, llama.encode("Hello world", false, false));
        assertEquals("Hello world", llama.decode(new int[] {1, 15043, 3186, 2}));
    }

    @Test
    void controlTokensAreMatchedOnlyWhenParsingSpecialTokens() {
        Tokenizer llama = gguf("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
        // After a special token the next text gets the dummy-prefix space again: "Hello" -> "▁Hello" 15043.
        assertArrayEquals(new int[] {1, 15043, 2}, llama.encode("<s>Hello</s>", false, true));
        int[] plain = llama.encode("<s>Hello</s>", false, false);
        assertFalse(Arrays.stream(plain).anyMatch(id -> id == 1 || id == 2));
        assertEquals("<s>Hello</s>", llama.decode(plain));
    }

    @Test
    void emptyTextHasNoTokensNotEvenTheDummyPrefix() {
        Tokenizer llama = gguf("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
        assertArrayEquals(new int[0], llama.encode("", false, false));
        assertArrayEquals(new int[] {1}, llama.encode("", true, false));
    }

    @Test
    void truncatedLlama2cFileIsRejectedWithItsName(@TempDir Path dir) throws IOException {
        Path tok = SharedModels.require("stories260K/tok512.bin");
        byte[] all = Files.readAllBytes(tok);
        Path cut = dir.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(all, 3000));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromLlama2c(cut, 512));
        assertTrue(e.getMessage().contains("cut.bin") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void unknownTokenizerModelIsRejectedNamingTheKey(@TempDir Path dir) {
        Path file = dir.resolve("bert.gguf");
        writeVocabOnlyGguf(file, "bert");
        try (GgufFile f = GgufFile.open(file)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromGguf(f));
            assertTrue(e.getMessage().contains("tokenizer.ggml.model") && e.getMessage().contains("bert"), e.getMessage());
        }
    }

    private static void writeVocabOnlyGguf(Path file, String model) {
        new GgufWriter()
                .putString("tokenizer.ggml.model", model)
                .putStringArray("tokenizer.ggml.tokens", "[PAD]", "a")
                .write(file);
    }
}
