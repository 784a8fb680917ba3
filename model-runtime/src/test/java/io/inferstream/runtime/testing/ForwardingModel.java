package io.inferstream.runtime.testing;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;

/**
 * A real model passed through, for fault-injection tests to override what fails: {@link #forward} (the interface's
 * candidate default runs through it too) and {@link #unusable}.
 */
public abstract class ForwardingModel implements LanguageModel {
    protected final LanguageModel inner;

    protected ForwardingModel(LanguageModel inner) {
        this.inner = inner;
    }

    @Override
    public ModelConfig config() {
        return inner.config();
    }

    @Override
    public float[] forward(TokenBatch batch, KvStore kv) {
        return inner.forward(batch, kv);
    }

    @Override
    public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
        return inner.newKvStore(numBlocks, blockSize, precision);
    }

    @Override
    public void close() {
        inner.close();
    }
}
