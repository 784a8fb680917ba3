package io.inferstream.runtime.model;

/**
 * Hyper-parameters of a Llama-family transformer, as GGUF metadata (or a llama2.c header) states them.
 *
 * @param architecture   GGUF {@code general.architecture}: "llama", "qwen2" or "qwen3"
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
        RopeScaling ropeScaling) {

    /**
     * Whether each head's query and key are RMS-normalized (with a learned weight per head dimension) before RoPE:
     * Qwen3's QK-norm.
     */
    public boolean qkNorm() {
        return architecture.equals("qwen3");
    }

    /** Width of one token's keys (or values) in one layer. */
    public int kvDim() {
        return nKvHeads * headDim;
    }

    /** Llama 3.1+ RoPE scaling ("rope_type": "llama3"). */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContextLength) {
    }
}
