package io.inferstream.runtime.gguf;

/**
 * Metadata value types of the GGUF format ({@code enum gguf_type} in gguf.h), with the Java type
 * {@link GgufFile#get(String)} returns for each.
 *
 * <p>Unsigned integers are widened to the next larger signed Java type so they are never negative:
 * UINT8 and UINT16 become {@link Integer}, UINT32 becomes {@link Long}. UINT64 becomes {@link Long} when
 * it is below 2^63 (always, in practice) and {@link java.math.BigInteger} otherwise. Signed types keep their
 * width: INT8 {@link Byte}, INT16 {@link Short}, INT32 {@link Integer}, INT64 {@link Long}.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 8),    // minimum size: the uint64 length
    ARRAY(9, 12),    // minimum size: uint32 element type + uint64 count
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    /** The id stored in the file. */
    public int id() {
        return id;
    }

    /** Smallest encoded size of one value, used to reject absurd counts before allocating. */
    int minBytes() {
        return minBytes;
    }

    /** True for the integer types (signed or not). */
    public boolean isIntegral() {
        return this == UINT8 || this == INT8 || this == UINT16 || this == INT16
                || this == UINT32 || this == INT32 || this == UINT64 || this == INT64;
    }

    /** The type with this id, or null when the id is not a GGUF value type. */
    static GgufValueType byIdOrNull(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }
}
