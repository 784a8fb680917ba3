package io.inferstream.runtime.model;

import io.inferstream.runtime.tensor.Matrix;

/**
 * The tensors of a Llama-family transformer. Matrices are [rows = outputs, cols = inputs], so
 * {@code y = W x} is {@code W.matmul}; per-layer arrays are indexed by layer.
 *
 * @param tokenEmbedding [vocab, dim]
 * @param attnNorm       [layer][dim] RMSNorm weight before attention
 * @param wq             [layer] [nHeads * headDim, dim]
 * @param wk             [layer] [nKvHeads * headDim, dim]
 * @param wv             [layer] [nKvHeads * headDim, dim]
 * @param wo             [layer] [dim, nHeads * headDim]
 * @param bq             [layer][nHeads * headDim] query bias (qwen2), or null
 * @param bk             [layer][kvDim] key bias, or null
 * @param bv             [layer][kvDim] value bias, or null
 * @param qNorm          [layer][headDim] RMSNorm weight of every query head before RoPE (qwen3), or null
 * @param kNorm          [layer][headDim] RMSNorm weight of every key head before RoPE (qwen3), or null
 * @param ffnNorm        [layer][dim] RMSNorm weight before the feed-forward block
 * @param gate           [layer] [hidden, dim] (llama2.c w1)
 * @param up             [layer] [hidden, dim] (llama2.c w3)
 * @param down           [layer] [dim, hidden] (llama2.c w2)
 * @param outputNorm     [dim]
 * @param output         [vocab, dim]; the token embedding itself when the model ties them
 * @param ropeFactors    [headDim / 2] divisors of the RoPE frequencies (GGUF {@code rope_freqs.weight}), or null
 * @param postAttnNorm   [layer][dim] RMSNorm weight on the attention output before its residual add (Gemma 2, 3), or null
 * @param postFfnNorm    [layer][dim] RMSNorm weight on the feed-forward output before its residual add, or null
 * @param experts        [layer] the mixture-of-experts feed-forward tensors, or null for a dense model (then gate,
 *                       up and down hold the feed-forward); in a mixture model gate, up and down are null
 */
public record LlamaWeights(
        Matrix tokenEmbedding,
        float[][] attnNorm,
        Matrix[] wq,
        Matrix[] wk,
        Matrix[] wv,
        Matrix[] wo,
        float[][] bq,
        float[][] bk,
        float[][] bv,
        float[][] qNorm,
        float[][] kNorm,
        float[][] ffnNorm,
        Matrix[] gate,
        Matrix[] up,
        Matrix[] down,
        float[] outputNorm,
        Matrix output,
        float[] ropeFactors,
        float[][] postAttnNorm,
        float[][] postFfnNorm,
        ExpertWeights[] experts) {

    /** A dense model. */
    public LlamaWeights(Matrix tokenEmbedding, float[][] attnNorm, Matrix[] wq, Matrix[] wk, Matrix[] wv, Matrix[] wo,
                        float[][] bq, float[][] bk, float[][] bv, float[][] qNorm, float[][] kNorm, float[][] ffnNorm,
                        Matrix[] gate, Matrix[] up, Matrix[] down, float[] outputNorm, Matrix output, float[] ropeFactors,
                        float[][] postAttnNorm, float[][] postFfnNorm) {
        this(tokenEmbedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm, ffnNorm, gate, up, down, outputNorm, output,
                ropeFactors, postAttnNorm, postFfnNorm, null);
    }

    /** A model without post-norms (every family but Gemma 2 and 3). */
    public LlamaWeights(Matrix tokenEmbedding, float[][] attnNorm, Matrix[] wq, Matrix[] wk, Matrix[] wv, Matrix[] wo,
                        float[][] bq, float[][] bk, float[][] bv, float[][] qNorm, float[][] kNorm, float[][] ffnNorm,
                        Matrix[] gate, Matrix[] up, Matrix[] down, float[] outputNorm, Matrix output, float[] ropeFactors) {
        this(tokenEmbedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm, ffnNorm, gate, up, down, outputNorm, output,
                ropeFactors, null, null, null);
    }
}
