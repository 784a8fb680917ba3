package io.inferstream.runtime.safetensors;

import io.inferstream.runtime.gguf.GgmlType;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The element types of the safetensors format, spelled as in the header ({@code "dtype": "BF16"}), with their
 * size in bytes. Declared in the reference implementation's order (by increasing size).
 */
public enum SafetensorsDtype {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E4M3(1),
    F8_E5M2(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    I64(8),
    U64(8),
    F64(8);

    private static final Map<String, SafetensorsDtype> BY_NAME = new HashMap<>();

    static {
        for (SafetensorsDtype d : values()) {
            BY_NAME.put(d.name(), d);
        }
    }

    private final int bytes;

    SafetensorsDtype(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The GgmlType a weight of this dtype is read as: F32, F16, BF16; empty for the others. */
    public Optional<GgmlType> ggmlType() {
        return switch (this) {
            case F32 -> Optional.of(GgmlType.F32);
            case F16 -> Optional.of(GgmlType.F16);
            case BF16 -> Optional.of(GgmlType.BF16);
            default -> Optional.empty();
        };
    }

    /** By the header's spelling (case-sensitive, as the format is); empty for a name the format does not define. */
    public static Optional<SafetensorsDtype> of(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }
}
