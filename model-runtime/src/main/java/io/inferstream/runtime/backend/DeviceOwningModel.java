package io.inferstream.runtime.backend;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;

/** A CUDA model that also releases its device when closed (the device was opened for it alone). */
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

    @Override
    public ModelConfig config() {
        return model.config();
    }

    @Override
    public float[] forward(TokenBatch batch, KvStore kv) {
        return model.forward(batch, kv);
    }

    @Override
    public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
        return model.newKvStore(numBlocks, blockSize, precision);
    }

    @Override
    public void close() {
        model.close();
        device.close();
    }

    @Override
    public String toString() {
        return model.toString();
    }
}
