package io.inferstream.runtime.model;

/**
 * The shape of a mixture-of-experts feed-forward block (Mixtral, Qwen2-MoE, Qwen3-MoE, Granite MoE): a router scores
 * {@code count} SwiGLU experts per token, the token runs through its {@code used} best, and their outputs are summed
 * weighted by the router's softmax probabilities (llama.cpp's build_moe_ffn with softmax gating).
 *
 * @param count        experts per layer
 * @param used         experts each token runs through (top-k)
 * @param hidden       feed-forward width of one expert
 * @param normalize    the chosen experts' probabilities are divided by their sum (Mixtral, Qwen3-MoE, Granite MoE:
 *                     a softmax over the chosen ones); Qwen2-MoE keeps the full softmax's
 * @param weightsScale factor on the experts' weights after that (llama.cpp {@code expert_weights_scale}); 1 for none
 * @param sharedHidden feed-forward width of the expert every token also runs through (Qwen2-MoE, Granite MoE
 *                     shared), 0 for none
 */
public record Experts(int count, int used, int hidden, boolean normalize, float weightsScale, int sharedHidden) {

    public Experts {
        if (count < 2 || used < 1 || used > count || hidden <= 0 || sharedHidden < 0 || !(weightsScale > 0)) {
            throw new IllegalArgumentException(count + " experts, " + used + " used per token, width " + hidden
                    + ", shared width " + sharedHidden + ", weights scale " + weightsScale
                    + ": expected at least 2 experts, 1 to " + count + " used, a positive width and scale");
        }
    }
}
