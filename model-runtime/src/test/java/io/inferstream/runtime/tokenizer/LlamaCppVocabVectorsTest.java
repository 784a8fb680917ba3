package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.testing.SharedModels;

/** Our tokenizers reproduce llama.cpp's test vectors token for token, for every vocabulary in llama.cpp-vocab/. */
class LlamaCppVocabVectorsTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2"})
    void ggufVocabularyEncodesAllLlamaCppVectorsExactly(String vocab) {
        LlamaCppVectors vectors = LlamaCppVectors.load(vocab);
        assertEquals(46, vectors.size(), "llama.cpp ships 46 inputs per vocabulary");
        try (GgufFile gguf = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf"))) {
            Tokenizer tokenizer = Tokenizers.fromGguf(gguf);
            List<String> bad = vectors.mismatches(tokenizer);
            assertTrue(bad.isEmpty(), bad.size() + " of 46 vectors differ for " + vocab + ":\n" + String.join("\n", bad));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2"})
    void ggufVocabularyDecodesEveryVectorBackToItsText(String vocab) {
        LlamaCppVectors vectors = LlamaCppVectors.load(vocab);
        try (GgufFile gguf = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf"))) {
            Tokenizer tokenizer = Tokenizers.fromGguf(gguf);
            for (int i = 0; i < vectors.size(); i++) {
                assertEquals(vectors.inputs.get(i), tokenizer.decode(vectors.expected.get(i)),
                        vocab + " vector #" + i + " " + LlamaCppVectors.quote(vectors.inputs.get(i)));
            }
        }
    }

    /**
     * Gemma's GGUFs set {@code tokenizer.ggml.add_space_prefix = false}: llama.cpp then tokenizes a text as given, where
     * with the prefix it tokenizes ' ' + text. So, without the prefix, ' ' + input must encode to llama.cpp's ids for
     * input with it, and those ids decode to ' ' + input (no space removed).
     */
    @Test
    void withoutTheSpacePrefixASpacedInputEncodesToLlamaCppsIdsForTheInputWithIt(@TempDir Path dir) {
        LlamaCppVectors vectors = LlamaCppVectors.load("llama-spm");
        Path copy = dir.resolve("spm-no-prefix.gguf");
        try (GgufFile gguf = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"))) {
            GgufWriter w = new GgufWriter();
            for (String key : gguf.keys()) {
                if (!key.equals("general.alignment")) {
                    w.put(key, gguf.typeOf(key), gguf.get(key));
                }
            }
            w.putBool("tokenizer.ggml.add_space_prefix", false).write(copy);
        }
        try (GgufFile gguf = GgufFile.open(copy)) {
            Tokenizer tokenizer = Tokenizers.fromGguf(gguf);
            int checked = 0;
            for (int i = 0; i < vectors.size(); i++) {
                String input = vectors.inputs.get(i);
                if (input.isEmpty()) {
                    continue; // llama.cpp gives no tokens for an empty text either way
                }
                assertArrayEquals(vectors.expected.get(i), tokenizer.encode(" " + input, false, false),
                        "vector #" + i + " " + LlamaCppVectors.quote(input));
                assertEquals(" " + input, tokenizer.decode(vectors.expected.get(i)), "vector #" + i + " decoded");
                checked++;
            }
            assertTrue(checked >= 40, checked + " vectors checked");
            assertFalse(java.util.Arrays.equals(tokenizer.encode(" Hello", false, false), tokenizer.encode("Hello", false, false)),
                    "no dummy prefix: 'Hello' is not tokenized as ' Hello'");
        }
    }

    @Test
    void specialTokensAndBosRuleComeFromTheMetadata() {
        try (GgufFile gpt2 = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
             GgufFile phi3 = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-phi-3.gguf"))) {
            Tokenizer g = Tokenizers.fromGguf(gpt2);
            assertEquals(50257, g.vocabSize());
            assertEquals(50256, g.bos());
            assertEquals(50256, g.eos());
            assertFalse(g.addBosByDefault());
            assertTrue(g.isEndOfGeneration(50256));
            assertEquals("", g.decode(new int[] {50256}), "control tokens render as nothing");
            Tokenizer p = Tokenizers.fromGguf(phi3);
            assertEquals(32064, p.vocabSize());
            assertEquals(32000, p.eos());
            assertTrue(p.addBosByDefault());
            assertEquals("<|end|>", p.piece(32007));
            assertTrue(p.isEndOfGeneration(32007), "<|end|> ends a Phi-3 turn");
            assertFalse(p.isEndOfGeneration(32010), "<|user|> does not");
        }
    }

    @Test
    void gpt2TextFilesEncodeTheGgufVectorsToTheSameIds() {
        LlamaCppVectors vectors = LlamaCppVectors.load("gpt-2");
        Tokenizer tokenizer = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/gpt2"));
        List<String> bad = vectors.mismatches(tokenizer);
        assertTrue(bad.isEmpty(), bad.size() + " of 46 vectors differ for gpt2 vocab.json+merges.txt:\n" + String.join("\n", bad));
    }
}
