package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.inferstream.runtime.testing.SharedModels;

/**
 * Byte-level BPE from Hugging Face / tiktoken files against published reference encodings: llama.cpp's
 * vectors for Llama 3 (llama-bpe) and Qwen2 (see src/test/resources/tokenizer/README.md), the well-known
 * "Hello world" ids, and the Llama 3 chat-header encoding.
 */
class HuggingFaceTokenizersTest {

    static Tokenizer llama3;
    static Tokenizer qwen2;
    static Tokenizer smollm2;

    @BeforeAll
    static void load() {
        llama3 = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/llama3/tokenizer.model"));
        qwen2 = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        smollm2 = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/smollm2/tokenizer.json"));
    }

    /** The 43 inputs of the older llama.cpp test revision: today's inputs without "!!!!!!", " discards", "Cửa Việt". */
    static List<String> olderInputs() {
        LlamaCppVectors v = LlamaCppVectors.load("gpt-2");
        List<String> in = new ArrayList<>(v.inputs);
        assertTrue(in.remove("!!!!!!"));
        assertTrue(in.remove(" discards"));
        assertTrue(in.remove("Cửa Việt"));
        assertEquals(43, in.size());
        return in;
    }

    static List<int[]> expected(String resource) throws IOException {
        try (InputStream s = HuggingFaceTokenizersTest.class.getResourceAsStream("/tokenizer/" + resource)) {
            List<int[]> out = new ArrayList<>();
            for (String line : new String(s.readAllBytes(), StandardCharsets.UTF_8).split("\n", -1)) {
                String t = line.trim();
                out.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split(" +")).mapToInt(Integer::parseInt).toArray());
            }
            out.remove(out.size() - 1); // after the final newline
            return out;
        }
    }

    static void assertVectors(Tokenizer tokenizer, List<String> inputs, List<int[]> expected, String what) {
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            int[] got = tokenizer.encode(inputs.get(i), false, false);
            if (!Arrays.equals(got, expected.get(i))) {
                bad.add("#" + i + " " + LlamaCppVectors.quote(inputs.get(i)) + ": expected " + Arrays.toString(expected.get(i))
                        + " got " + Arrays.toString(got));
            }
        }
        assertTrue(bad.isEmpty(), bad.size() + " of " + inputs.size() + " " + what + " vectors differ:\n" + String.join("\n", bad));
    }

    @Test
    void llama3TiktokenFileReproducesLlamaCppLlamaBpeVectors() throws IOException {
        List<int[]> expected = expected("ggml-vocab-llama-bpe.gguf.out");
        List<String> inputs = olderInputs();
        inputs.add(" Việt");
        assertEquals(inputs.size(), expected.size());
        assertVectors(llama3, inputs, expected, "llama-bpe");
    }

    @Test
    void qwen2VocabAndMergesReproduceLlamaCppQwen2Vectors() throws IOException {
        List<int[]> expected = expected("ggml-vocab-qwen2.gguf.out");
        List<String> inputs = olderInputs();
        assertEquals(inputs.size(), expected.size());
        assertVectors(qwen2, inputs, expected, "qwen2");
    }

    @Test
    void helloWorldHasTheWellKnownIds() {
        assertArrayEquals(new int[] {9906, 1917}, llama3.encode("Hello world", false, false));
        assertArrayEquals(new int[] {9707, 1879}, qwen2.encode("Hello world", false, false));
    }

    @Test
    void llama3AddsBeginOfTextByDefaultAndParsesChatHeaders() {
        assertEquals(128000, llama3.bos());
        assertTrue(llama3.addBosByDefault());
        assertArrayEquals(new int[] {128000, 9906, 1917}, llama3.encode("Hello world"));
        // Llama 3 chat format: user = 882, assistant = 78191, "\n\n" = 271, "hello" = 15339.
        String prompt = "<|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        assertArrayEquals(new int[] {128000, 128006, 882, 128007, 271, 15339, 128009, 128006, 78191, 128007, 271},
                llama3.encode(prompt, true, true));
        int[] plain = llama3.encode(prompt, false, false);
        assertTrue(Arrays.stream(plain).allMatch(id -> id < 128000), "without special parsing the markers are plain text");
        assertEquals(prompt, llama3.decode(plain));
    }

    @Test
    void endOfGenerationCoversEosEotAndEom() {
        assertTrue(llama3.isEndOfGeneration(128001)); // <|end_of_text|>
        assertTrue(llama3.isEndOfGeneration(128009)); // <|eot_id|>
        assertTrue(llama3.isEndOfGeneration(128008)); // <|eom_id|> (3.1+)
        assertFalse(llama3.isEndOfGeneration(128006));
        assertFalse(llama3.isEndOfGeneration(9906));
        assertEquals(151645, qwen2.eos()); // tokenizer_config eos_token <|im_end|>
        assertTrue(qwen2.isEndOfGeneration(151645));
        assertTrue(qwen2.isEndOfGeneration(151643)); // <|endoftext|>
        assertFalse(qwen2.isEndOfGeneration(151644));
        assertEquals(-1, qwen2.bos());
        assertTrue(smollm2.isEndOfGeneration(2)); // <|im_end|>
        assertTrue(smollm2.isEndOfGeneration(0)); // <|endoftext|>
    }

    @Test
    void qwen2SpecialTokensNeedParseSpecialButAddedTokensAreAlwaysMatched() {
        assertArrayEquals(new int[] {151644, 872, 198, 9707, 151645},
                qwen2.encode("<|im_start|>user\nHello<|im_end|>", false, true)); // ChatML header: "user" 872, "\n" 198 (see ChatTemplateTest)
        int[] plain = qwen2.encode("<|im_start|>", false, false);
        assertTrue(plain.length > 1 && Arrays.stream(plain).allMatch(id -> id < 151643));
        // <tool_call> is an added token with special=false: cut out even without special parsing, like HF.
        int[] tool = qwen2.encode("<tool_call>", false, false);
        assertArrayEquals(new int[] {151657}, tool);
        assertEquals("<tool_call>", qwen2.decode(tool));
        assertEquals("", qwen2.decode(new int[] {151644})); // control tokens render as nothing
    }

    @Test
    void qwen2NormalizesToNfcFirst() {
        String composed = "Việt café";
        String decomposed = java.text.Normalizer.normalize(composed, java.text.Normalizer.Form.NFD);
        assertFalse(composed.equals(decomposed));
        assertArrayEquals(qwen2.encode(composed, false, false), qwen2.encode(decomposed, false, false));
    }

    @Test
    void smollm2SplitsEveryDigitAndMatchesItsVocabJsonWhereDigitsDoNotMatter() {
        int[] digits = smollm2.encode("1314151", false, false);
        assertEquals(7, digits.length);
        for (int i = 0; i < 7; i++) {
            assertEquals(String.valueOf("1314151".charAt(i)), smollm2.decode(new int[] {digits[i]}));
        }
        assertArrayEquals(new int[] {1, 2}, smollm2.encode("<|im_start|><|im_end|>", false, true));
        // The same vocabulary as vocab.json + merges.txt (GPT-2 pre-tokenizer): equal on text without digits.
        Tokenizer textFiles = HuggingFaceVocabularyReader.readVocabAndMerges(SharedModels.require("hf-tokenizers/smollm2"));
        for (String s : LlamaCppVectors.load("gpt-2").inputs) {
            if (s.chars().noneMatch(Character::isDigit)) {
                assertArrayEquals(textFiles.encode(s, false, false), smollm2.encode(s, false, false), LlamaCppVectors.quote(s));
            }
        }
    }

    @Test
    void everyTokenizerRoundTripsTheVectorsAndChineseAndEmoji() {
        List<String> texts = new ArrayList<>(LlamaCppVectors.load("gpt-2").inputs);
        texts.add("我想在苹果公司工作，这是一个测试。中文分词和表情符号 😀🎉👩‍👩‍👧‍👦 🇯🇵");
        texts.add("Ünïcödé ｆｕｌｌｗｉｄｔｈ ½ ⅓ ٣٤٥ १२३ \u00a0nbsp\u2003em-space\u3000ideographic");
        for (Tokenizer t : List.of(llama3, qwen2, smollm2)) {
            for (String s : texts) {
                assertEquals(s, t.decode(t.encode(s, false, false)), LlamaCppVectors.quote(s));
            }
        }
    }
}
