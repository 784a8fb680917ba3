package io.inferstream.runtime.bench;

import java.util.Locale;

/**
 * The hyper-parameters of a real Llama-family model, for writing a random-weights GGUF of the same
 * shape (same matrix sizes, so the same compute per token) without downloading the model.
 *
 * @param name        CLI name
 * @param dim         embedding width
 * @param hiddenDim   feed-forward width
 * @param nLayers     transformer blocks
 * @param nHeads      query heads
 * @param nKvHeads    key/value heads
 * @param vocabSize   vocabulary rows
 * @param contextLength trained context
 * @param ropeTheta   RoPE base
 * @param tiedOutput  output projection shares the embedding matrix
 */
public record ModelShape(String name, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize,
                         int contextLength, float ropeTheta, boolean tiedOutput) {

    /** HuggingFaceTB/SmolLM2-135M. */
    public static final ModelShape SMOLLM2_135M = new ModelShape("smollm2-135m", 576, 1536, 30, 9, 3, 49152, 8192, 100000f, true);
    /** meta-llama/Llama-3.2-1B (without its rope scaling: irrelevant to speed). */
    public static final ModelShape LLAMA_32_1B = new ModelShape("llama-3.2-1b", 2048, 8192, 16, 32, 8, 128256, 131072, 500000f, true);
    /** A few-layer model for fast tests. */
    public static final ModelShape TINY = new ModelShape("tiny", 64, 192, 2, 4, 2, 512, 2048, 10000f, false);

    public static ModelShape byName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "smollm2-135m" -> SMOLLM2_135M;
            case "llama-3.2-1b" -> LLAMA_32_1B;
            case "tiny" -> TINY;
            default -> throw new IllegalArgumentException("unknown model shape '" + name + "' (expected smollm2-135m, llama-3.2-1b or tiny)");
        };
    }

    public int headDim() {
        return dim / nHeads;
    }
}
