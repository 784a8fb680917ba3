package io.inferstream.runtime.model;

/**
 * Where a family's transformer departs from Llama's block (RMSNorm, attention, RMSNorm, SwiGLU, residual adds):
 * Gemma's, Granite's scales, a mixture of experts for the feed-forward. {@link #LLAMA} departs in nothing.
 *
 * @param embeddingScale   factor on each token's embedding row (Gemma: sqrt(dim), in float as llama.cpp scales it)
 * @param geluFeedForward  GELU (tanh approximation) on the gate instead of SiLU: Gemma's GeGLU
 * @param postNorms        an RMSNorm on the attention output and on the feed-forward output, each before its residual
 *                         add (Gemma 2 and 3: {@code post_attention_norm}, {@code post_ffw_norm})
 * @param attentionScale   factor on q·k; 0 for 1/sqrt(headDim)
 * @param attentionSoftcap scores become cap·tanh(score / cap) before the softmax (Gemma 2); 0 for none
 * @param finalSoftcap     logits become cap·tanh(logit / cap) (Gemma 2); 0 for none
 * @param window           the sliding-window layers, or null when every layer sees the whole context
 * @param residualScale    factor on each sub-block's output before its residual add (Granite); 1 for none
 * @param logitScale       divisor of the logits (Granite's {@code logit_scale}); 1 for none
 * @param experts          the mixture-of-experts feed-forward of every layer, or null for a dense SwiGLU
 */
public record BlockOptions(float embeddingScale, boolean geluFeedForward, boolean postNorms, float attentionScale,
                           float attentionSoftcap, float finalSoftcap, SlidingWindow window, float residualScale,
                           float logitScale, Experts experts) {

    /** Llama's block. */
    public static final BlockOptions LLAMA = new BlockOptions(1f, false, false, 0f, 0f, 0f, null);

    public BlockOptions {
        if (!(embeddingScale > 0) || attentionScale < 0 || attentionSoftcap < 0 || finalSoftcap < 0
                || !(residualScale > 0) || !(logitScale > 0)) {
            throw new IllegalArgumentException("embedding scale " + embeddingScale + ", attention scale " + attentionScale
                    + ", soft caps " + attentionSoftcap + " / " + finalSoftcap + ", residual scale " + residualScale
                    + ", logit scale " + logitScale + ": expected positive embedding, residual and logit scales and "
                    + "no negative factor");
        }
    }

    /** A block with a dense feed-forward and no Granite scales (Llama's, Gemma's). */
    public BlockOptions(float embeddingScale, boolean geluFeedForward, boolean postNorms, float attentionScale,
                        float attentionSoftcap, float finalSoftcap, SlidingWindow window) {
        this(embeddingScale, geluFeedForward, postNorms, attentionScale, attentionSoftcap, finalSoftcap, window, 1f, 1f, null);
    }

    /** This block with its feed-forward a mixture of {@code e} (null: dense). */
    public BlockOptions withExperts(Experts e) {
        return new BlockOptions(embeddingScale, geluFeedForward, postNorms, attentionScale, attentionSoftcap, finalSoftcap,
                window, residualScale, logitScale, e);
    }

    /** This block with every layer seeing the whole context. */
    public BlockOptions withoutWindow() {
        return new BlockOptions(embeddingScale, geluFeedForward, postNorms, attentionScale, attentionSoftcap, finalSoftcap,
                null, residualScale, logitScale, experts);
    }

    /** Whether this is Llama's block. */
    public boolean isLlama() {
        return equals(LLAMA);
    }

    /** The factor on q·k of a model of {@code headDim}-wide heads. */
    public float attentionScale(int headDim) {
        return attentionScale > 0 ? attentionScale : (float) (1.0 / Math.sqrt(headDim));
    }
}
