package io.inferstream.runtime.bench;

import java.util.Locale;

/**
 * The hyper-parameters of a real Llama-family model, for writing a random-weights GGUF of the same
 * shape (same matrix sizes, so the same compute per token) without downloading the model.
 *
 * @param name        CLI name
 * @param architecture GGUF {@code general.architecture}: llama, qwen3 (per-head Q/K norms), gemma3 (Q/K norms, post-norms,
 *                    GeGLU, sliding-window layers), granitemoe (Granite's scales, a mixture of experts) or phi3 (fused
 *                    tensors, LongRoPE)
 * @param dim         embedding width
 * @param hiddenDim   feed-forward width (of one expert in a mixture)
 * @param nLayers     transformer blocks
 * @param nHeads      query heads
 * @param nKvHeads    key/value heads
 * @param headDim     width of one head (dim / nHeads but for Qwen3)
 * @param vocabSize   vocabulary rows
 * @param contextLength trained context
 * @param ropeTheta   RoPE base
 * @param tiedOutput  output projection shares the embedding matrix
 * @param slidingWindow positions a sliding-window layer sees (gemma3; phi3: every layer), 0 for none
 * @param experts     experts per layer, 0 for a dense feed-forward
 * @param expertsUsed experts each token runs through
 */
public record ModelShape(String name, String architecture, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads,
                         int headDim, int vocabSize, int contextLength, float ropeTheta, boolean tiedOutput, int slidingWindow,
                         int experts, int expertsUsed) {

    /** A dense shape. */
    public ModelShape(String name, String architecture, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads,
                      int headDim, int vocabSize, int contextLength, float ropeTheta, boolean tiedOutput, int slidingWindow) {
        this(name, architecture, dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocabSize, contextLength, ropeTheta,
                tiedOutput, slidingWindow, 0, 0);
    }

    /** A shape whose every layer sees the whole context. */
    public ModelShape(String name, String architecture, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads,
                      int headDim, int vocabSize, int contextLength, float ropeTheta, boolean tiedOutput) {
        this(name, architecture, dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocabSize, contextLength, ropeTheta,
                tiedOutput, 0);
    }

    /** HuggingFaceTB/SmolLM2-135M. */
    public static final ModelShape SMOLLM2_135M = new ModelShape("smollm2-135m", "llama", 576, 1536, 30, 9, 3, 64, 49152, 8192, 100000f, true);
    /** meta-llama/Llama-3.2-1B (without its rope scaling: irrelevant to speed). */
    public static final ModelShape LLAMA_32_1B = new ModelShape("llama-3.2-1b", "llama", 2048, 8192, 16, 32, 8, 64, 128256, 131072, 500000f, true);
    /** Qwen/Qwen3-0.6B: 16 heads of 128 over a width of 1024, Q/K norms. */
    public static final ModelShape QWEN3_06B = new ModelShape("qwen3-0.6b", "qwen3", 1024, 3072, 28, 16, 8, 128, 151936, 40960,
            1000000f, true);
    /** google/gemma-3-1b-pt: one KV head of 256, a 262k vocabulary, five of six layers within 512 positions. */
    public static final ModelShape GEMMA3_1B = new ModelShape("gemma3-1b", "gemma3", 1152, 6912, 26, 4, 1, 256, 262144, 32768,
            1000000f, true, 512);
    /**
     * ibm-granite/granite-3.0-1b-a400m: 32 experts of 512 per layer, 8 per token: 1.33 B weights of which ~0.4 B run per
     * token; Granite's multipliers (embedding 12, residual 0.22, attention 1/64, logits / 6).
     */
    public static final ModelShape GRANITE_MOE_1B = new ModelShape("granite-moe-1b", "granitemoe", 1024, 512, 24, 16, 8, 64,
            49155, 4096, 10000f, true, 0, 32, 8);
    /**
     * microsoft/Phi-3.5-mini-instruct: fused QKV and gate/up tensors, LongRoPE over 131072 positions of which the short
     * factors serve the first 4096, every layer's window of 262144.
     */
    public static final ModelShape PHI35_MINI = new ModelShape("phi3.5-mini", "phi3", 3072, 8192, 32, 32, 32, 96, 32064,
            131072, 10000f, false, 262144);
    /** A few-layer model for fast tests. */
    public static final ModelShape TINY = new ModelShape("tiny", "llama", 64, 192, 2, 4, 2, 16, 512, 2048, 10000f, false);

    public static ModelShape byName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "smollm2-135m" -> SMOLLM2_135M;
            case "llama-3.2-1b" -> LLAMA_32_1B;
            case "qwen3-0.6b" -> QWEN3_06B;
            case "gemma3-1b" -> GEMMA3_1B;
            case "granite-moe-1b" -> GRANITE_MOE_1B;
            case "phi3.5-mini" -> PHI35_MINI;
            case "tiny" -> TINY;
            default -> throw new IllegalArgumentException("unknown model shape '" + name
                    + "' (expected smollm2-135m, llama-3.2-1b, qwen3-0.6b, gemma3-1b, granite-moe-1b, phi3.5-mini or tiny)");
        };
    }
}
