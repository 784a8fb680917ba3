package io.inferstream.runtime.model;

import io.inferstream.runtime.tensor.Matrix;

/**
 * One layer's mixture-of-experts feed-forward tensors (see {@link Experts}). Matrices are [rows = outputs, cols = inputs].
 *
 * @param router       [count, dim]: each expert's score for a token (GGUF {@code ffn_gate_inp})
 * @param gate         [count] [hidden, dim]
 * @param up           [count] [hidden, dim]
 * @param down         [count] [dim, hidden]
 * @param sharedGate   [sharedHidden, dim] of the shared expert, or null without one
 * @param sharedUp     [sharedHidden, dim], or null
 * @param sharedDown   [dim, sharedHidden], or null
 * @param sharedRouter [dim]: the shared expert's output is scaled by sigmoid(this · x) (Qwen2-MoE), or null when it
 *                     is added as is (Granite MoE shared)
 */
public record ExpertWeights(Matrix router, Matrix[] gate, Matrix[] up, Matrix[] down,
                            Matrix sharedGate, Matrix sharedUp, Matrix sharedDown, float[] sharedRouter) {

    public boolean hasShared() {
        return sharedGate != null;
    }
}
