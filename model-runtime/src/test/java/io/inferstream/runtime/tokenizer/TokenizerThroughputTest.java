package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.testing.SharedModels;

/**
 * Encoding long prompts stays fast: merging uses a priority queue over a linked list of symbols, so a
 * whitespace-free run (one huge pre-token) costs O(n log n), not O(n²). Prints tokens/s for the report.
 */
class TokenizerThroughputTest {

    static String longEnglish() throws IOException {
        // The models README: real English prose with tables, hashes and code spans (~16 kB), repeated.
        String text = Files.readString(SharedModels.require("README.md"), StandardCharsets.UTF_8);
        // A literal ▁ is SentencePiece's space and decodes as one, so keep it out of the round-trip text.
        return text.replace('\u2581', '_').repeat(4);
    }

    static void measure(String name, Tokenizer t, String text) {
        t.encode(text, false, false); // warm-up (JIT, and the pre-token cache for byte-level BPE)
        long start = System.nanoTime();
        int[] ids = t.encode(text, false, false);
        double s = (System.nanoTime() - start) / 1e9;
        System.out.printf("%s: %d chars -> %d tokens in %.3f s = %.0f tokens/s%n", name, text.length(), ids.length, s, ids.length / s);
        assertEquals(text, t.decode(ids));
    }

    @Test
    void longPromptsEncodeQuicklyAndRoundTrip() throws IOException {
        String text = longEnglish();
        try (GgufFile f = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"))) {
            measure("llama-spm (SentencePiece)", Tokenizers.fromGguf(f), text);
        }
        try (GgufFile f = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"))) {
            measure("gpt-2 (byte-level BPE)", Tokenizers.fromGguf(f), text);
        }
    }

    @Test
    void aWhitespaceFreeRunIsNotQuadratic() {
        // 100k chars with no space: one SentencePiece symbol chain and one GPT-2 pre-token of 100k bytes.
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 100_000; i++) {
            sb.append(Integer.toString(i * 7919, 36));
        }
        String run = sb.toString().replaceAll("[0-9]", "x");
        for (String vocab : new String[] {"llama-spm", "gpt-2"}) {
            try (GgufFile f = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf"))) {
                Tokenizer t = Tokenizers.fromGguf(f);
                long start = System.nanoTime();
                int[] ids = t.encode(run, false, false);
                double s = (System.nanoTime() - start) / 1e9;
                System.out.printf("%s whitespace-free: %d chars -> %d tokens in %.3f s%n", vocab, run.length(), ids.length, s);
                // Quadratic rescans would need ~10^10 steps here (minutes); the queue needs well under a second.
                assertTrue(s < 10, vocab + " took " + s + " s for a " + run.length() + "-char run");
                assertTrue(t.decode(ids).endsWith(run.substring(run.length() - 100)));
            }
        }
    }
}
