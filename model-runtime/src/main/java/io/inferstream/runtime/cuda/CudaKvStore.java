package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;

import io.inferstream.runtime.kv.KvStore;

/**
 * The paged KV cache in device memory: per layer a key pool and a value pool of {@code numBlocks * blockSize}
 * slots of {@code kvDim} elements (float or IEEE half), laid out like the CPU store. Allocated once; the host
 * arrays of {@link KvStore} stay null.
 */
public final class CudaKvStore extends KvStore implements AutoCloseable {

    private final CudaDevice device;
    private final DeviceBuffer[] keys;   // [layer] [slots, kvDim]
    private final DeviceBuffer[] values; // [layer] [slots, kvDim]

    CudaKvStore(CudaDevice device, int nLayers, int kvDim, int numBlocks, int blockSize, Precision precision) {
        super(nLayers, kvDim, numBlocks, blockSize, precision, false);
        this.device = device;
        device.makeCurrent();
        long layerBytes = (long) numBlocks * blockSize * kvDim * precision.bytes;
        keys = new DeviceBuffer[nLayers];
        values = new DeviceBuffer[nLayers];
        try {
            for (int l = 0; l < nLayers; l++) {
                keys[l] = DeviceBuffer.allocate(layerBytes, "KV cache keys of layer " + l);
                values[l] = DeviceBuffer.allocate(layerBytes, "KV cache values of layer " + l);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    DeviceBuffer keys(int layer) {
        return keys[layer];
    }

    DeviceBuffer values(int layer) {
        return values[layer];
    }

    /** Device bytes of both pools of all layers. */
    public long bytes() {
        return 2L * nLayers() * keys[0].bytes();
    }

    @Override
    public void copyBlock(int from, int to) {
        device.makeCurrent();
        long len = (long) blockSize() * kvDim() * precision().bytes;
        for (int l = 0; l < nLayers(); l++) {
            cuMemcpyDtoD(keys[l].at(to * len), keys[l].at(from * len), len);
            cuMemcpyDtoD(values[l].at(to * len), values[l].at(from * len), len);
        }
    }

    @Override
    public void close() {
        device.makeCurrent();
        for (int l = 0; l < keys.length; l++) {
            if (keys[l] != null) {
                keys[l].close();
            }
            if (values[l] != null) {
                values[l].close();
            }
        }
    }
}
