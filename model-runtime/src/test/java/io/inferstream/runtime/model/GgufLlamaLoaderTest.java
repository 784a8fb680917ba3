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
    void qwen3ReadsItsHeadWidthAndNeedsItsQkNormTensors() {
        Path p = dir.resolve("q3.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3").withHeadDim(32), p);
        try (GgufFile gguf = GgufFile.open(p)) {
            LlamaModel m = LlamaModel.load(gguf);
            assertEquals(32, m.config().headDim(), "qwen3.attention.key_length");
            assertTrue(m.config().ropeNeox() && m.config().qkNorm());
            assertNull(m.weights().bq());
            assertEquals(32, m.weights().kNorm()[1].length);
        }
        GgufWriter noKNorm = header("qwen3").putUInt32("qwen3.attention.key_length", 8)
                .addTensor("token_embd.weight", new float[64 * 10], 64, 10)
                .addTensor("blk.0.attn_norm.weight", new float[64], 64)
                .addTensor("blk.0.attn_q.weight", new float[64 * 32], 64, 32)
                .addTensor("blk.0.attn_k.weight", new float[64 * 32], 64, 32)
                .addTensor("blk.0.attn_v.weight", new float[64 * 32], 64, 32)
                .addTensor("blk.0.attn_output.weight", new float[32 * 64], 32, 64)
                .addTensor("blk.0.attn_q_norm.weight", new float[8], 8);
        String msg = loadError(noKNorm);
        assertTrue(msg.contains("blk.0.attn_k_norm.weight") && msg.contains("missing"), msg);

        String widths = loadError(header("qwen3").putUInt32("qwen3.attention.key_length", 8)
                .putUInt32("qwen3.attention.value_length", 16).addTensor("token_embd.weight", new float[64 * 10], 64, 10));
        assertTrue(widths.contains("qwen3.attention.value_length is 16") && widths.contains("key_length is 8"), widths);
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
        return header("llama");
    }

    private static GgufWriter header(String arch) {
        return new GgufWriter().putString("general.architecture", arch)
                .putUInt32(arch + ".embedding_length", 64).putUInt32(arch + ".feed_forward_length", 96)
                .putUInt32(arch + ".block_count", 1).putUInt32(arch + ".attention.head_count", 4);
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
