package io.inferstream.runtime.model;

import io.inferstream.runtime.kv.KvStore;

/**
 * A transformer that can run one batched forward step. The CPU model ({@code LlamaModel}) and the
 * GPU backend implement it; the engine's model runner only sees this.
 */
public interface LanguageModel extends AutoCloseable {

    ModelConfig config();

    /**
     * Runs all tokens of {@code batch} through the model, writing their keys/values into {@code kv}.
     *
     * @return logits, [batch.logitRows().length, vocabSize], row-major
     */
    float[] forward(TokenBatch batch, KvStore kv);

    /**
     * Runs the step like {@link #forward} but returns, per logit row, only the {@code k} best (logit, token id)
     * pairs (descending logit, then ascending id), the row's max and its log-sum-exp over the whole vocabulary.
     * This default computes them on the CPU from {@link #forward}'s logits; a device backend overrides it so that
     * only those come back from the device.
     *
     * @param k candidates per row, 1..{@link LogitCandidates#MAX_K} (capped at the vocabulary)
     */
    default LogitCandidates forwardCandidates(TokenBatch batch, KvStore kv, int k) {
        LogitCandidates.effectiveK(k, config().vocabSize()); // reject a bad k before the step runs
        float[] logits = forward(batch, kv); // [rows, vocab]
        return LogitCandidates.of(logits, batch.logitRows().length, config().vocabSize(), k);
    }

    /**
     * Bytes of KV cache this model's device has room for (a GPU backend: what its memory plan leaves after the weights
     * and activations), or empty where the engine's configured budget applies (the CPU). The engine sizes an
     * {@code auto} KV cache from it.
     */
    default java.util.OptionalLong kvCacheBudget() {
        return java.util.OptionalLong.empty();
    }

    /**
     * True when the logits are computed on a device, so that copying whole rows to the host costs more than
     * selecting candidates there ({@link #forwardCandidates}): the engine then asks for candidates by default.
     */
    default boolean logitsOnDevice() {
        return false;
    }

    /**
     * Why this model can no longer run any step, or empty while it can. The engine asks after a step failed: a GPU
     * backend whose context took a sticky error (an illegal address, a failed launch, an uncorrectable ECC error)
     * refuses every later call until the context is destroyed, so the engine fails as a whole instead of failing one
     * step's requests and then every step's. The CPU model never becomes unusable.
     */
    default java.util.Optional<String> unusable() {
        return java.util.Optional.empty();
    }

    /** A KV store for this model: {@code numBlocks} blocks of {@code blockSize} positions in every layer. */
    KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision);

    @Override
    default void close() {
    }
}
