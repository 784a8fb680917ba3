package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.testing.SharedModels;

class GgufLlamaLoaderTest {

    @TempDir
    Path dir;

    @Test
    void stories260KConfigIsReadFromItsMetadata() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            ModelConfig c = LlamaModel.load(gguf).config();
            assertEquals(new ModelConfig("llama", 64, 172, 5, 8, 4, 8, 512, 2048, 1e-5f, 10000f, false, null), c);
            // tied in the checkpoint, but the converter wrote a copy: it is used as stored
            assertTrue(gguf.hasTensor("output.weight"));
        }
    }

    @Test
    void qwen2UsesTheNeoxLayoutAndTiedOutputFallsBackToTheEmbedding() {
        Path p = dir.resolve("q.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2").withTied(true), p);
        try (GgufFile gguf = GgufFile.open(p)) {
            LlamaModel m = LlamaModel.load(gguf);
            assertTrue(m.config().ropeNeox());
            assertNull(m.config().ropeScaling());
            assertTrue(m.weights().output() == m.weights().tokenEmbedding());
            assertTrue(m.weights().bq() != null);
        }
    }

    @Test
    void unsupportedArchitectureIsNamed() {
        String msg = loadError(new GgufWriter().putString("general.architecture", "gpt2"));
        assertTrue(msg.contains("gpt2") && msg.contains("general.architecture"), msg);
    }

    @Test
    void missingKeyIsNamed() {
        String msg = loadError(new GgufWriter().putString("general.architecture", "llama").putUInt32("llama.embedding_length", 64));
        assertTrue(msg.contains("llama.attention.head_count"), msg);
    }

    @Test
    void missingOrMisshapenTensorIsNamedWithTheExpectedShape() {
        GgufWriter w = header().addTensor("token_embd.weight", new float[64 * 10], 64, 10);
        String missing = loadError(w);
        assertTrue(missing.contains("blk.0.attn_norm.weight") && missing.contains("missing"), missing);

        GgufWriter bad = header().addTensor("token_embd.weight", new float[64 * 10], 64, 10)
                .addTensor("blk.0.attn_norm.weight", new float[64], 64)
                .addTensor("blk.0.attn_q.weight", new float[64 * 32], 32, 64);
        String shape = loadError(bad);
        assertTrue(shape.contains("blk.0.attn_q.weight") && shape.contains("expected [64, 64]"), shape);
    }

    @Test
    void unsupportedRopeScalingIsNamed() {
        GgufWriter w = header().putString("llama.rope.scaling.type", "yarn").addTensor("token_embd.weight", new float[64 * 10], 64, 10);
        String msg = loadError(w);
        assertTrue(msg.contains("yarn"), msg);
    }

    private static GgufWriter header() {
        return new GgufWriter().putString("general.architecture", "llama")
                .putUInt32("llama.embedding_length", 64).putUInt32("llama.feed_forward_length", 96)
                .putUInt32("llama.block_count", 1).putUInt32("llama.attention.head_count", 4);
    }

    private String loadError(GgufWriter w) {
        Path p = dir.resolve("bad.gguf");
        w.write(p);
        try (GgufFile gguf = GgufFile.open(p)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> LlamaModel.load(gguf)).getMessage();
            assertTrue(msg.contains(p.toString()), "message names the file: " + msg);
            return msg;
        }
    }
}
