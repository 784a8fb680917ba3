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

    /** A KV store for this model: {@code numBlocks} blocks of {@code blockSize} positions in every layer. */
    KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision);

    @Override
    default void close() {
    }
}
