package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;

import java.lang.ref.Cleaner;

import io.inferstream.runtime.kv.KvStore;

/**
 * The paged KV cache in device memory: per layer a key pool and a value pool of {@code numBlocks * blockSize}
 * slots of {@code kvDim} elements (float or IEEE half), laid out like the CPU store. Allocated once; the host
 * arrays of {@link KvStore} stay null. Callers of the {@link KvStore} contract never close stores, so the
 * device memory is also released when the store becomes unreachable.
 */
public final class CudaKvStore extends KvStore implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaDevice device;
    private final Pools pools;
    private final Cleaner.Cleanable cleanable;

    /** The device buffers, held apart from the store so that the cleaner does not keep the store alive. */
    private static final class Pools implements Runnable {
        final CudaDevice device;
        final DeviceBuffer[] keys;   // [layer] [slots, kvDim]
        final DeviceBuffer[] values; // [layer] [slots, kvDim]

        Pools(CudaDevice device, int layers) {
            this.device = device;
            this.keys = new DeviceBuffer[layers];
            this.values = new DeviceBuffer[layers];
        }

        @Override
        public synchronized void run() {
            try {
                device.makeCurrent();
                for (int l = 0; l < keys.length; l++) {
                    if (keys[l] != null) {
                        keys[l].close();
                    }
                    if (values[l] != null) {
                        values[l].close();
                    }
                }
            } catch (RuntimeException e) {
                // the device was closed first: its context took the memory with it
            }
        }
    }

    CudaKvStore(CudaDevice device, int nLayers, int kvDim, int numBlocks, int blockSize, Precision precision) {
        super(nLayers, kvDim, numBlocks, blockSize, precision, false);
        this.device = device;
        device.makeCurrent();
        long layerBytes = (long) numBlocks * blockSize * kvDim * precision.bytes;
        pools = new Pools(device, nLayers);
        cleanable = CLEANER.register(this, pools);
        try {
            for (int l = 0; l < nLayers; l++) {
                pools.keys[l] = DeviceBuffer.allocate(layerBytes, "KV cache keys of layer " + l);
                pools.values[l] = DeviceBuffer.allocate(layerBytes, "KV cache values of layer " + l);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    DeviceBuffer keys(int layer) {
        return pools.keys[layer];
    }

    DeviceBuffer values(int layer) {
        return pools.values[layer];
    }

    /** Device bytes of both pools of all layers. */
    public long bytes() {
        return 2L * nLayers() * pools.keys[0].bytes();
    }

    @Override
    public void copyBlock(int from, int to) {
        device.makeCurrent();
        long len = (long) blockSize() * kvDim() * precision().bytes;
        for (int l = 0; l < nLayers(); l++) {
            synchronized (ContextLock.current()) {
                cuMemcpyDtoD(pools.keys[l].at(to * len), pools.keys[l].at(from * len), len);
                cuMemcpyDtoD(pools.values[l].at(to * len), pools.values[l].at(from * len), len);
            }
        }
    }

    /** Frees the device pools now (idempotent). */
    @Override
    public void close() {
        cleanable.clean();
    }
}
