package io.inferstream.runtime.engine;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.testing.SharedModels;

import java.nio.file.Path;
import java.util.SplittableRandom;

/** The models the engine tests run: stories260K (real weights) and small random-weights Q8_0 models. */
final class TestModels {

    private TestModels() {
    }

    static LlamaModel stories260K() {
        GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
        return LlamaModel.load(gguf);
    }

    /** A random-weights Q8_0 model of the tiny shape, written into {@code dir}. */
    static LlamaModel randomQ8(Path dir) {
        Path file = RandomModelWriter.write(ModelShape.TINY, GgmlType.Q8_0, 7, dir.resolve("tiny-q8_0.gguf"));
        return LlamaModel.load(GgufFile.open(file));
    }

    /**
     * A random-weights Q8_0 Gemma 3 of six layers (five see the last 16 positions, the sixth all of them; GeGLU, post-norms,
     * QK-norm, two RoPEs), written into {@code dir}.
     */
    static LlamaModel randomGemma3Q8(Path dir) {
        ModelShape shape = new ModelShape("tiny-gemma3", "gemma3", 64, 192, 6, 4, 1, 32, 512, 2048, 1000000f, true, 16);
        Path file = RandomModelWriter.write(shape, GgmlType.Q8_0, 7, dir.resolve("tiny-gemma3-q8_0.gguf"));
        return LlamaModel.load(GgufFile.open(file));
    }

    /** A random-weights Q8_0 Granite MoE of two layers (8 experts of 96, 2 per token, Granite's multipliers), in {@code dir}. */
    static LlamaModel randomGraniteMoeQ8(Path dir) {
        ModelShape shape = new ModelShape("tiny-granitemoe", "granitemoe", 64, 96, 2, 4, 2, 16, 512, 2048, 10000f, true, 0, 8, 2);
        Path file = RandomModelWriter.write(shape, GgmlType.Q8_0, 7, dir.resolve("tiny-granitemoe-q8_0.gguf"));
        return LlamaModel.load(GgufFile.open(file));
    }

    /** {@code n} random token ids in [3, vocab): past unk/bos/eos. */
    static int[] randomPrompt(SplittableRandom rnd, int n, int vocab) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = 3 + rnd.nextInt(vocab - 3);
        }
        return p;
    }
}
