package io.inferstream.runtime.model;

/**
 * Hyper-parameters of a Llama-family transformer, as GGUF metadata (or a llama2.c header) states them.
 *
 * @param architecture   GGUF {@code general.architecture}: "llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3", "gemma",
 *                       "gemma2", "gemma3", "granite" or "granitemoe"
 * @param dim            embedding width (d_model)
 * @param hiddenDim      feed-forward width
 * @param nLayers        transformer blocks
 * @param nHeads         query heads
 * @param nKvHeads       key/value heads (grouped-query attention when &lt; nHeads)
 * @param headDim        width of one head (usually dim / nHeads)
 * @param vocabSize      rows of the embedding / output matrix
 * @param contextLength  maximum positions the model was trained for
 * @param rmsEps         RMSNorm epsilon
 * @param ropeTheta      RoPE frequency base
 * @param ropeNeox       true for the NeoX layout (rotate halves: qwen2, qwen3), false for interleaved pairs (llama)
 * @param ropeScaling    Llama-3 frequency scaling, or null
 * @param ropeDim        dimensions of each head that RoPE rotates (the first ones; Phi-4-mini rotates 96 of 128)
 * @param ropeAttentionFactor factor on RoPE's cos and sin, so on queries and keys alike (LongRoPE's magnitude scaling,
 *                       {@code rope.scaling.attn_factor}; 1 for everything else)
 * @param ropeLinearFactor divisor of every position's angle ({@code rope.scaling.type = linear}; Gemma 3 from 4B up: 8,
 *                       on its global layers only); 1 for none
 * @param block          where the block departs from Llama's (Gemma's), {@link BlockOptions#LLAMA} otherwise
 */
public record ModelConfig(
        String architecture,
        int dim,
        int hiddenDim,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int headDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        boolean ropeNeox,
        RopeScaling ropeScaling,
        int ropeDim,
        float ropeAttentionFactor,
        float ropeLinearFactor,
        BlockOptions block) {

    /** A model whose RoPE rotates whole heads, unscaled. */
    public ModelConfig(String architecture, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int headDim,
                       int vocabSize, int contextLength, float rmsEps, float ropeTheta, boolean ropeNeox, RopeScaling ropeScaling) {
        this(architecture, dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocabSize, contextLength, rmsEps, ropeTheta,
                ropeNeox, ropeScaling, headDim, 1f);
    }

    /** A Llama-family model (Llama's block, no linear RoPE scaling). */
    public ModelConfig(String architecture, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int headDim,
                       int vocabSize, int contextLength, float rmsEps, float ropeTheta, boolean ropeNeox, RopeScaling ropeScaling,
                       int ropeDim, float ropeAttentionFactor) {
        this(architecture, dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocabSize, contextLength, rmsEps, ropeTheta,
                ropeNeox, ropeScaling, ropeDim, ropeAttentionFactor, 1f, BlockOptions.LLAMA);
    }

    public ModelConfig {
        if (!(ropeLinearFactor > 0)) {
            throw new IllegalArgumentException("linear RoPE factor " + ropeLinearFactor + " must be positive");
        }
        if (block == null) {
            throw new IllegalArgumentException("block options missing (BlockOptions.LLAMA for Llama's block)");
        }
        if (ropeDim <= 0 || ropeDim > headDim || ropeDim % 2 != 0) {
            throw new IllegalArgumentException("RoPE dimensions " + ropeDim + " must be even and within the head's " + headDim);
        }
    }

    /**
     * Whether each head's query and key are RMS-normalized (with a learned weight per head dimension) before RoPE:
     * Qwen3's and Gemma 3's QK-norm.
     */
    public boolean qkNorm() {
        return architecture.equals("qwen3") || architecture.equals("qwen3moe") || architecture.equals("gemma3");
    }

    /** The factor on q·k: the block's scale (1/sqrt(headDim) for Llama). */
    public float qkScale() {
        return block.attentionScale(headDim);
    }

    /** Width of one token's keys (or values) in one layer. */
    public int kvDim() {
        return nKvHeads * headDim;
    }

    /** Llama 3.1+ RoPE scaling ("rope_type": "llama3"). */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContextLength) {
    }
}
