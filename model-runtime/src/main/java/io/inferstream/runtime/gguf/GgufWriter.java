package io.inferstream.runtime.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files: metadata of every value type (arrays included, nested too) and tensors,
 * each tensor's data padded to the alignment. Used to build small models for tests, and by users who
 * convert or quantize weights ({@link Quantizer} makes the bytes).
 *
 * <pre>{@code
 * new GgufWriter()
 *     .putString("general.architecture", "llama")
 *     .putUInt32("llama.embedding_length", 64)
 *     .addTensor("token_embd.weight", GgmlType.Q8_0, new long[] {64, 512}, Quantizer.quantize(GgmlType.Q8_0, w))
 *     .write(path);
 * }</pre>
 */
public final class GgufWriter {

    private record Entry(GgufValueType type, Object value) {
    }

    private record Tensor(String name, GgmlType type, long[] shape, byte[] data) {
    }

    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;

    /** Adds a value; {@code value} must be boxed as {@link GgufValueType} documents (any Number for numbers). */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        checkValue(key, type, value);
        metadata.put(key, new Entry(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValueType.STRING, value);
    }

    public GgufWriter putUInt8(String key, int value) {
        return put(key, GgufValueType.UINT8, value);
    }

    public GgufWriter putInt8(String key, byte value) {
        return put(key, GgufValueType.INT8, value);
    }

    public GgufWriter putUInt16(String key, int value) {
        return put(key, GgufValueType.UINT16, value);
    }

    public GgufWriter putInt16(String key, short value) {
        return put(key, GgufValueType.INT16, value);
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValueType.UINT32, value);
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValueType.INT32, value);
    }

    public GgufWriter putUInt64(String key, long value) {
        return put(key, GgufValueType.UINT64, value);
    }

    public GgufWriter putInt64(String key, long value) {
        return put(key, GgufValueType.INT64, value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValueType.FLOAT32, value);
    }

    public GgufWriter putFloat64(String key, double value) {
        return put(key, GgufValueType.FLOAT64, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValueType.BOOL, value);
    }

    public GgufWriter putArray(String key, GgufArray value) {
        return put(key, GgufValueType.ARRAY, value);
    }

    public GgufWriter putStringArray(String key, String... values) {
        return putArray(key, new GgufArray(GgufValueType.STRING, List.of((Object[]) values)));
    }

    public GgufWriter putFloatArray(String key, float... values) {
        List<Object> l = new ArrayList<>(values.length);
        for (float v : values) {
            l.add(v);
        }
        return putArray(key, new GgufArray(GgufValueType.FLOAT32, l));
    }

    public GgufWriter putInt32Array(String key, int... values) {
        List<Object> l = new ArrayList<>(values.length);
        for (int v : values) {
            l.add(v);
        }
        return putArray(key, new GgufArray(GgufValueType.INT32, l));
    }

    /** Sets the data alignment (a power of two) and records it as {@code general.alignment}. */
    public GgufWriter alignment(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        this.alignment = alignment;
        return putUInt32("general.alignment", alignment);
    }

    /**
     * Adds a tensor of {@code type} with ggml shape {@code shape} (ne[0] first: a rows × cols matrix is
     * {@code {cols, rows}}) whose encoded bytes are {@code data}.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, byte[] data) {
        long elements = 1;
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor " + name + ": dimensions must be > 0");
            }
            elements *= d;
        }
        if (type.bytesFor(elements) != data.length) {
            throw new IllegalArgumentException("tensor " + name + ": " + type + " " + elements + " elements take "
                    + type.bytesFor(elements) + " bytes, got " + data.length);
        }
        for (Tensor t : tensors) {
            if (t.name.equals(name)) {
                throw new IllegalArgumentException("duplicate tensor " + name);
            }
        }
        tensors.add(new Tensor(name, type, shape.clone(), data));
        return this;
    }

    /** Adds an F32 tensor. */
    public GgufWriter addTensor(String name, float[] data, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(data);
        return addTensor(name, GgmlType.F32, shape, b.array());
    }

    public void write(Path path) {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(path), 1 << 16)) {
            write(os);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write GGUF file " + path + ": " + e.getMessage(), e);
        }
    }

    public byte[] toByteArray() {
        java.io.ByteArrayOutputStream bos = new java.io.ByteArrayOutputStream();
        try {
            write(bos);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    private void write(OutputStream os) throws IOException {
        LittleEndianOut out = new LittleEndianOut(os);
        out.u32(GgufFile.MAGIC);
        out.u32(3);
        out.u64(tensors.size());
        out.u64(metadata.size());
        for (Map.Entry<String, Entry> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.u32(e.getValue().type.id());
            writeValue(out, e.getValue().type, e.getValue().value);
        }
        long offset = 0;
        for (Tensor t : tensors) {
            out.string(t.name);
            out.u32(t.shape.length);
            for (long d : t.shape) {
                out.u64(d);
            }
            out.u32(t.type.id());
            out.u64(offset);
            offset = align(offset + t.data.length);
        }
        if (!tensors.isEmpty()) {
            out.pad(align(out.position) - out.position);
            for (Tensor t : tensors) {
                out.bytes(t.data);
                out.pad(align(t.data.length) - t.data.length);
            }
        }
        out.flush();
    }

    private long align(long x) {
        return (x + alignment - 1) / alignment * alignment;
    }

    private static void writeValue(LittleEndianOut out, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> out.u8(((Number) v).intValue());
            case UINT16, INT16 -> out.u16(((Number) v).intValue());
            case UINT32, INT32 -> out.u32(((Number) v).intValue());
            case UINT64, INT64 -> out.u64(((Number) v).longValue());
            case FLOAT32 -> out.u32(Float.floatToRawIntBits(((Number) v).floatValue()));
            case FLOAT64 -> out.u64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case BOOL -> out.u8((Boolean) v ? 1 : 0);
            case STRING -> out.string((String) v);
            case ARRAY -> {
                GgufArray a = (GgufArray) v;
                out.u32(a.elementType().id());
                out.u64(a.size());
                for (Object e : a.values()) {
                    writeValue(out, a.elementType(), e);
                }
            }
        }
    }

    private static void checkValue(String key, GgufValueType type, Object v) {
        boolean ok = switch (type) {
            case STRING -> v instanceof String;
            case BOOL -> v instanceof Boolean;
            case ARRAY -> v instanceof GgufArray;
            case FLOAT32, FLOAT64 -> v instanceof Number;
            case UINT64 -> v instanceof Number n && (n instanceof BigInteger
                    ? ((BigInteger) n).signum() >= 0 && ((BigInteger) n).bitLength() <= 64 : n.longValue() >= 0);
            default -> v instanceof Number n && !(n instanceof Float) && !(n instanceof Double)
                    && inRange(type, n.longValue());
        };
        if (!ok) {
            throw new IllegalArgumentException("metadata " + key + ": " + v + " is not a valid " + type);
        }
        if (v instanceof GgufArray a) {
            for (Object e : a.values()) {
                checkValue(key + "[]", a.elementType(), e);
            }
        }
    }

    private static boolean inRange(GgufValueType type, long v) {
        return switch (type) {
            case UINT8 -> v >= 0 && v <= 0xFF;
            case INT8 -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
            case UINT16 -> v >= 0 && v <= 0xFFFF;
            case INT16 -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
            case UINT32 -> v >= 0 && v <= 0xFFFF_FFFFL;
            case INT32 -> v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
            default -> true;
        };
    }

    /** Little-endian primitive output that counts bytes written (for the data-section padding). */
    private static final class LittleEndianOut {
        private final OutputStream os;
        private final byte[] scratch = new byte[8];
        long position;

        LittleEndianOut(OutputStream os) {
            this.os = os;
        }

        void u8(int v) throws IOException {
            os.write(v);
            position++;
        }

        void u16(int v) throws IOException {
            scratch[0] = (byte) v;
            scratch[1] = (byte) (v >>> 8);
            os.write(scratch, 0, 2);
            position += 2;
        }

        void u32(int v) throws IOException {
            for (int i = 0; i < 4; i++) {
                scratch[i] = (byte) (v >>> (8 * i));
            }
            os.write(scratch, 0, 4);
            position += 4;
        }

        void u64(long v) throws IOException {
            for (int i = 0; i < 8; i++) {
                scratch[i] = (byte) (v >>> (8 * i));
            }
            os.write(scratch, 0, 8);
            position += 8;
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void bytes(byte[] b) throws IOException {
            os.write(b);
            position += b.length;
        }

        void pad(long n) throws IOException {
            for (long i = 0; i < n; i++) {
                os.write(0);
            }
            position += n;
        }

        void flush() throws IOException {
            os.flush();
        }
    }
}
