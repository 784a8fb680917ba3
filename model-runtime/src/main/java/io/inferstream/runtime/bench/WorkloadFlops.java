package io.inferstream.runtime.bench;

import io.inferstream.runtime.model.Experts;
import io.inferstream.runtime.model.ModelConfig;

/**
 * The floating-point work a bench workload needs from a model, whatever the mode: the same tokens go through
 * the same matrices one at a time or batched. Counted as 2 FLOP per multiply-add; norms, RoPE, softmax and
 * sampling (O(dim) per token, under 1%) are left out, so this is a lower bound.
 *
 * <ul>
 *   <li>Every request runs promptLength + outputLength − 1 tokens through every layer (the last sampled token
 *       is never fed back): Wq, Wk, Wv, Wo and the three feed-forward matrices (in a mixture of experts, the router
 *       and the three matrices of each expert the token runs through).</li>
 *   <li>Every sampled token costs one row of logits: the vocab × dim output matrix.</li>
 *   <li>A token at position p attends over p + 1 positions: per layer and query head, a score and a weighted
 *       value of headDim multiply-adds each.</li>
 * </ul>
 *
 * @param matmulFlops    weight matrices, layers and output head // FLOP
 * @param attentionFlops q·k scores and weighted values // FLOP
 */
public record WorkloadFlops(double matmulFlops, double attentionFlops) {

    public static WorkloadFlops of(ModelConfig c, int requests, int promptLength, int outputLength) {
        long qDim = (long) c.nHeads() * c.headDim();
        long kvDim = c.kvDim();
        long dim = c.dim();
        Experts e = c.block().experts();
        // a mixture: the router, then the experts a token runs through (and the shared one)
        long ffn = e == null ? 3 * dim * c.hiddenDim()
                : dim * e.count() + 3 * dim * ((long) e.used() * e.hidden() + e.sharedHidden());
        long perLayer = dim * qDim + 2 * dim * kvDim + qDim * dim + ffn; // multiply-adds per token
        long forwardTokens = promptLength + outputLength - 1L;
        double layerMacs = (double) perLayer * c.nLayers() * forwardTokens;
        double headMacs = (double) c.vocabSize() * dim * outputLength;
        // Σ_{p < forwardTokens} (p + 1) positions, each a score and a value of headDim per query head and layer
        double positions = forwardTokens * (forwardTokens + 1) / 2.0;
        double attentionMacs = positions * 2.0 * c.headDim() * c.nHeads() * c.nLayers();
        return new WorkloadFlops(2 * requests * (layerMacs + headMacs), 2 * requests * attentionMacs);
    }

    public double total() {
        return matmulFlops + attentionFlops;
    }
}
