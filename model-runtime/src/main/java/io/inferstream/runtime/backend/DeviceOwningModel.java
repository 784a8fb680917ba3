package io.inferstream.runtime.backend;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A CUDA model that also releases its device when closed (the device was opened for it alone). Every method of
 * {@link LanguageModel} is passed on, the defaults included: a default left to the interface would quietly run the
 * CPU's way (whole logit rows copied to the host, the engine's configured KV budget instead of the memory plan's).
 */
final class DeviceOwningModel implements LanguageModel {

    private final CudaLlamaModel model;
    private final CudaDevice device;

    DeviceOwningModel(CudaLlamaModel model, CudaDevice device) {
        this.model = model;
        this.device = device;
    }

    public CudaLlamaModel cudaModel() {
        return model;
    }

    CudaDevice device() {
        return device;
    }

    @Override
    public ModelConfig config() {
        return model.config();
    }

    @Override
    public float[] forward(TokenBatch batch, KvStore kv) {
        return model.forward(batch, kv);
    }

    @Override
    public LogitCandidates forwardCandidates(TokenBatch batch, KvStore kv, int k) {
        return model.forwardCandidates(batch, kv, k);
    }

    @Override
    public OptionalLong kvCacheBudget() {
        return model.kvCacheBudget();
    }

    @Override
    public boolean logitsOnDevice() {
        return model.logitsOnDevice();
    }

    @Override
    public Optional<String> unusable() {
        return device.lost();
    }

    @Override
    public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
        return model.newKvStore(numBlocks, blockSize, precision);
    }

    /** Frees the model's device memory, then releases the device even when that failed (a lost device refuses frees). */
    @Override
    public void close() {
        try {
            model.close();
        } finally {
            device.close();
        }
    }

    @Override
    public String toString() {
        return model.toString();
    }
}
