package io.inferstream.runtime.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.inferstream.runtime.gguf.Float16;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a safetensors file: tensors in the order added, the header (compact JSON, {@code __metadata__} first)
 * padded with spaces to a multiple of 8 bytes, data contiguous. The reference implementation instead sorts
 * tensors by decreasing dtype size, then name, so that each is aligned to its element size; readers that map
 * per tensor (as {@link SafetensorsFile}) do not need that.
 *
 * <pre>{@code
 * new SafetensorsWriter()
 *     .putMetadata("format", "pt")
 *     .addBf16("model.embed_tokens.weight", w, 512, 64)   // [vocab, dim]
 *     .write(path);
 * }</pre>
 */
public final class SafetensorsWriter {

    private record Tensor(SafetensorsDtype dtype, long[] shape, byte[] data) {
    }

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>(); // in the order added

    public SafetensorsWriter putMetadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /**
     * Adds a tensor of row-major {@code shape} whose encoded bytes are {@code littleEndianData} (kept, not
     * copied); their length must be {@code product(shape) * dtype.bytes()}.
     */
    public SafetensorsWriter add(String name, SafetensorsDtype dtype, long[] shape, byte[] littleEndianData) {
        Objects.requireNonNull(dtype, "dtype");
        long elements = elementCount(name, shape);
        long expected = Math.multiplyExact(elements, (long) dtype.bytes());
        if (littleEndianData.length != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': dtype " + dtype + " and shape "
                    + Arrays.toString(shape) + " take " + expected + " bytes, got " + littleEndianData.length);
        }
        tensors.put(name, new Tensor(dtype, shape.clone(), littleEndianData));
        return this;
    }

    /** Adds an F32 tensor of row-major {@code shape} (none for a scalar). */
    public SafetensorsWriter addF32(String name, float[] values, long... shape) {
        return addFloats(name, SafetensorsDtype.F32, values, shape);
    }

    /** Adds a BF16 tensor, each value rounded by {@link #toBf16}. */
    public SafetensorsWriter addBf16(String name, float[] values, long... shape) {
        return addFloats(name, SafetensorsDtype.BF16, values, shape);
    }

    /** Adds an F16 tensor, each value rounded to nearest even by {@link Float16#fromFloat}. */
    public SafetensorsWriter addF16(String name, float[] values, long... shape) {
        return addFloats(name, SafetensorsDtype.F16, values, shape);
    }

    private SafetensorsWriter addFloats(String name, SafetensorsDtype dtype, float[] values, long[] shape) {
        long elements = elementCount(name, shape);
        if (values.length != elements) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has "
                    + elements + " elements, got " + values.length + " values");
        }
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(toBf16(v));
                case F16 -> b.putShort(Float16.fromFloat(v));
                default -> throw new AssertionError(dtype);
            }
        }
        return add(name, dtype, shape, b.array());
    }

    /** Checks the name and shape; returns product(shape). */
    private long elementCount(String name, long[] shape) {
        Objects.requireNonNull(name, "name");
        if (name.equals(SafetensorsHeader.METADATA)) {
            throw new IllegalArgumentException("'" + name + "' is reserved for the metadata; it cannot name a tensor");
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("duplicate tensor '" + name + "'");
        }
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " has a negative dimension");
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Writes the file, replacing any file at {@code path}. */
    public void write(Path path) {
        byte[] header = header();
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(path), 1 << 16)) {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            os.write(header);
            for (Tensor t : tensors.values()) {
                os.write(t.data);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write safetensors file " + path + ": " + e.getMessage(), e);
        }
    }

    /** The JSON header, padded with spaces so that the data section starts at a multiple of 8. */
    private byte[] header() {
        ObjectNode root = SafetensorsHeader.JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA);
            metadata.forEach(meta::put);
        }
        long offset = 0; // relative to the data section
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            ObjectNode entry = root.putObject(e.getKey());
            entry.put(SafetensorsHeader.DTYPE, t.dtype.name());
            ArrayNode shape = entry.putArray(SafetensorsHeader.SHAPE);
            for (long d : t.shape) {
                shape.add(d);
            }
            entry.putArray(SafetensorsHeader.DATA_OFFSETS).add(offset).add(offset + t.data.length);
            offset += t.data.length;
        }
        byte[] json;
        try {
            json = SafetensorsHeader.JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e); // a tree of strings and numbers always serializes
        }
        byte[] padded = Arrays.copyOf(json, (json.length + 7) & ~7);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /**
     * Float to bfloat16 bits, round to nearest even (carrying into the exponent, up to infinity), as torch's
     * {@code round_to_nearest_even}: every NaN becomes the quiet NaN {@code 0x7FC0}. Used by {@link #addBf16}.
     */
    public static short toBf16(float f) {
        return Float.isNaN(f) ? (short) 0x7FC0 : Float16.floatToBf16(f); // same rounding as ggml for non-NaNs
    }
}
