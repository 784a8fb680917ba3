package io.inferstream.runtime.gguf;

import java.util.EnumSet;
import java.util.Set;

/**
 * The ggml tensor element types as numbered in ggml.h ({@code enum ggml_type}), with the block geometry
 * from ggml.c's {@code type_traits}: a tensor row is a sequence of blocks of {@link #blockSize()} elements
 * stored in {@link #typeSize()} bytes each.
 *
 * <p>Every type that can appear in a GGUF file is listed so the tensor index of any file loads; only the
 * types in {@link #supported()} can be turned into a {@code Matrix}. Ids 4, 5 (old Q4_2/Q4_3) and 31..33,
 * 36..38 (removed interleaved layouts) are no longer valid in ggml and are rejected as unknown.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),      // half d + 16 bytes of nibbles
    Q4_1(3, 32, 20),      // half d, half m + 16 bytes
    Q5_0(6, 32, 22),      // half d + 4 bytes qh + 16 bytes
    Q5_1(7, 32, 24),      // half d, half m + 4 bytes qh + 16 bytes
    Q8_0(8, 32, 34),      // half d + 32 int8
    Q8_1(9, 32, 36),      // half d, half s + 32 int8
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private static final GgmlType[] BY_ID = new GgmlType[64];
    private static final Set<GgmlType> SUPPORTED = EnumSet.of(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
            Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS);

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The numeric id stored in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Elements per block. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /** True when the runtime has kernels for this type (a {@code Matrix} can be built from it). */
    public boolean supported() {
        return SUPPORTED.contains(this);
    }

    /** The types with kernels, for error messages. */
    public static Set<GgmlType> supportedTypes() {
        return EnumSet.copyOf(SUPPORTED);
    }

    /** Bytes taken by {@code elements} values; {@code elements} must be a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockSize != 0) {
            throw new IllegalArgumentException(
                    this + " stores blocks of " + blockSize + " elements; " + elements + " is not a multiple");
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }

    /** The type with this id; throws {@link IllegalArgumentException} for ids ggml does not define. */
    public static GgmlType fromId(int id) {
        GgmlType t = id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
        if (t == null) {
            throw new IllegalArgumentException("unknown ggml type id " + id);
        }
        return t;
    }
}
