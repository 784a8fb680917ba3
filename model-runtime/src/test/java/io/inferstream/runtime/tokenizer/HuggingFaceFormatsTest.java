package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * tokenizer.json variants the real files here do not exercise: merges as [left, right] pairs, a
 * TemplateProcessing post-processor that prepends BOS, a Split pre-tokenizer, and clear errors for
 * what is not supported. The vocabulary is the 256 byte tokens (id = byte value) plus "ab" (256) and "<s>" (257).
 */
class HuggingFaceFormatsTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode tinyTokenizerJson() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteUnicode.charOf(b)), b);
        }
        vocab.put("ab", 256);
        ArrayNode merges = model.putArray("merges");
        merges.addArray().add("a").add("b");
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", 257).put("content", "<s>").put("special", true);
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel");
        return root;
    }

    static Path write(Path dir, ObjectNode root) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, JSON.writeValueAsString(root), StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void pairMergesAndTemplateBosAreRead(@TempDir Path dir) throws IOException {
        ObjectNode root = tinyTokenizerJson();
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        post.putArray("single").addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        Tokenizer t = Tokenizers.fromHuggingFace(write(dir, root));
        assertEquals(257, t.bos());
        assertTrue(t.addBosByDefault());
        // GPT-2 split: "ab", " ab"; the only merge joins a+b, so " ab" is Ġ (byte 0x20, id 32) + ab.
        assertArrayEquals(new int[] {257, 256, 32, 256}, t.encode("ab ab"));
        assertEquals("ab ab", t.decode(t.encode("ab ab")));
    }

    @Test
    void splitPreTokenizerIsolatesItsMatches(@TempDir Path dir) throws IOException {
        ObjectNode root = tinyTokenizerJson();
        ObjectNode split = root.putObject("pre_tokenizer");
        split.put("type", "Split").put("behavior", "Isolated").put("invert", false);
        split.putObject("pattern").put("Regex", "b");
        // "ab" split as "a" | "b": the merge a+b can no longer happen across pieces.
        Tokenizer t = Tokenizers.fromHuggingFace(write(dir, root));
        assertArrayEquals(new int[] {'a', 'b'}, t.encode("ab", false, false)); // byte tokens have the byte's id here
    }

    @Test
    void unsupportedNormalizerIsRejectedNamingTheFile(@TempDir Path dir) throws IOException {
        ObjectNode root = tinyTokenizerJson();
        root.putObject("normalizer").put("type", "Lowercase");
        Path file = write(dir, root);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromHuggingFace(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("Lowercase"), e.getMessage());
    }

    @Test
    void sentencePieceTokenizerJsonIsRejectedWithAReason(@TempDir Path dir) throws IOException {
        ObjectNode root = tinyTokenizerJson();
        root.putObject("pre_tokenizer").put("type", "Metaspace");
        root.putObject("decoder").put("type", "Metaspace");
        Path file = write(dir, root);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromHuggingFace(file));
        assertTrue(e.getMessage().contains("byte-level"), e.getMessage());
    }
}
