package io.inferstream.runtime.kv;

/**
 * The physical paged KV cache of one model on the CPU: for every layer, a key pool and a value pool of
 * {@code numBlocks * blockSize} slots, each slot holding one token's {@code kvDim} floats. Block {@code b}
 * of a layer owns {@code [b * blockSize * kvDim, (b + 1) * blockSize * kvDim)} of each pool; its layout
 * within the block is the attention kernel's business ({@code model.PagedAttention}: per KV head, keys
 * transposed and values row by row). This class only sizes, allocates and copies whole blocks.
 *
 * <p>Which blocks belong to which sequence is decided by the {@code KvCacheManager}; this class only
 * holds the numbers. Allocated once, up front, from a memory budget.
 */
public class KvStore implements AutoCloseable {

    /** How keys and values are stored: F32 (exact) or F16 (half the memory). */
    public enum Precision {
        F32(4), F16(2);

        public final int bytes;

        Precision(int bytes) {
            this.bytes = bytes;
        }
    }

    private final int nLayers;
    private final int kvDim;
    private final int numBlocks;
    private final int blockSize;
    private final Precision precision;
    private final float[][] keysF32;   // [layer][slot * kvDim]
    private final float[][] valuesF32; // [layer][slot * kvDim]
    private final short[][] keysF16;   // [layer][slot * kvDim], IEEE half bits
    private final short[][] valuesF16;

    public KvStore(int nLayers, int kvDim, int numBlocks, int blockSize, Precision precision) {
        long slots = (long) numBlocks * blockSize * kvDim;
        if (slots > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV pool of " + numBlocks + " blocks x " + blockSize
                    + " positions x " + kvDim + " floats is too large for one layer array; lower --kv-cache-memory");
        }
        this.nLayers = nLayers;
        this.kvDim = kvDim;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.precision = precision;
        if (precision == Precision.F32) {
            keysF32 = new float[nLayers][(int) slots];
            valuesF32 = new float[nLayers][(int) slots];
            keysF16 = null;
            valuesF16 = null;
        } else {
            keysF16 = new short[nLayers][(int) slots];
            valuesF16 = new short[nLayers][(int) slots];
            keysF32 = null;
            valuesF32 = null;
        }
    }

    /**
     * A store whose pools live elsewhere (a GPU backend's device memory): no host arrays are allocated, the
     * array accessors return null, and the subclass overrides {@link #copyBlock}.
     */
    protected KvStore(int nLayers, int kvDim, int numBlocks, int blockSize, Precision precision, boolean hostPools) {
        if (hostPools) {
            throw new IllegalArgumentException("use the public constructor for host pools");
        }
        this.nLayers = nLayers;
        this.kvDim = kvDim;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.precision = precision;
        this.keysF32 = null;
        this.valuesF32 = null;
        this.keysF16 = null;
        this.valuesF16 = null;
    }

    /** Bytes one block takes across all layers, keys and values: what the memory budget is divided by. */
    public static long bytesPerBlock(int nLayers, int kvDim, int blockSize, Precision precision) {
        return 2L * nLayers * kvDim * blockSize * precision.bytes;
    }

    public int nLayers() {
        return nLayers;
    }

    public int kvDim() {
        return kvDim;
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int blockSize() {
        return blockSize;
    }

    public Precision precision() {
        return precision;
    }

    /** F32 key pool of a layer; null when the precision is F16. */
    public float[] keysF32(int layer) {
        return keysF32 == null ? null : keysF32[layer];
    }

    public float[] valuesF32(int layer) {
        return valuesF32 == null ? null : valuesF32[layer];
    }

    /** F16 key pool of a layer (half-float bits); null when the precision is F32. */
    public short[] keysF16(int layer) {
        return keysF16 == null ? null : keysF16[layer];
    }

    public short[] valuesF16(int layer) {
        return valuesF16 == null ? null : valuesF16[layer];
    }

    /** Copies one block's contents (all layers) to another block: copy-on-write of a shared prefix block. */
    public void copyBlock(int from, int to) {
        int len = blockSize * kvDim;
        for (int l = 0; l < nLayers; l++) {
            if (precision == Precision.F32) {
                System.arraycopy(keysF32[l], from * len, keysF32[l], to * len, len);
                System.arraycopy(valuesF32[l], from * len, valuesF32[l], to * len, len);
            } else {
                System.arraycopy(keysF16[l], from * len, keysF16[l], to * len, len);
                System.arraycopy(valuesF16[l], from * len, valuesF16[l], to * len, len);
            }
        }
    }

    /**
     * Releases what the store holds outside the Java heap, at once (its owner, the engine, calls it when it stops):
     * nothing here, the pools are heap arrays; a device store frees its device memory.
     */
    @Override
    public void close() {
    }
}
