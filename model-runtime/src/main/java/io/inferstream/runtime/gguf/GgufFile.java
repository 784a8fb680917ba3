package io.inferstream.runtime.gguf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A GGUF file (versions 2 and 3): its metadata, tensor index and memory-mapped tensor data.
 *
 * <p>Layout (gguf.h): {@code "GGUF"}, uint32 version, uint64 tensor count, uint64 metadata count, the
 * metadata key/value pairs, the tensor infos (name, uint32 n_dims, uint64 ne[n_dims], uint32 type,
 * uint64 offset), padding to {@code general.alignment}, then the data section. All little-endian.
 *
 * <p>Everything is validated when the file is opened: a malformed file fails in {@link #open} with a
 * {@link GgufFormatException} naming the file and the offending key or tensor, never later with an
 * index error. Tensor data is mapped per tensor on request, so files over 2 GiB work; a single tensor
 * must be under 2 GiB (a Java {@link ByteBuffer} limit), otherwise {@link #tensorData} says so.
 *
 * <p>{@link #get(String)} returns values boxed as {@link GgufValueType} documents; the typed getters
 * coerce between integer widths when the value fits.
 */
public final class GgufFile implements AutoCloseable {

    /** "GGUF" read as a little-endian uint32. */
    static final int MAGIC = 0x46554747;
    static final int DEFAULT_ALIGNMENT = 32;
    private static final String ALIGNMENT_KEY = "general.alignment";

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType> valueTypes;
    private final Map<String, GgufTensorInfo> tensors;
    private final int alignment;
    private final long dataStart;

    private GgufFile(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        this.fileSize = channel.size();
        // The header is parsed from one mapping of the file's first 2 GiB at most (mapping costs only
        // address space); the data section is mapped per tensor later.
        long headerMapSize = Math.min(fileSize, Integer.MAX_VALUE);
        ByteBuffer buf = channel.map(FileChannel.MapMode.READ_ONLY, 0, headerMapSize).order(ByteOrder.LITTLE_ENDIAN);
        HeaderParser p = new HeaderParser(buf);

        int magic = p.i32("magic");
        if (magic != MAGIC) {
            throw fail(String.format("not a GGUF file: magic is 0x%08x, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        this.version = p.i32("version");
        if (version == 1) {
            throw fail("GGUF version 1 is not supported (it used 32-bit counts); re-convert the model with a "
                    + "current llama.cpp to get version 3");
        }
        if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
            throw fail("big-endian GGUF file (version " + Integer.reverseBytes(version) + " byte-swapped); only "
                    + "little-endian files are supported");
        }
        if (version != 2 && version != 3) {
            throw fail("unsupported GGUF version " + Integer.toUnsignedString(version) + ", expected 2 or 3");
        }
        long tensorCount = p.u64("tensor count");
        long kvCount = p.u64("metadata count");
        // Each metadata pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info 8+4+4+8.
        if (kvCount < 0 || kvCount > (fileSize - p.pos()) / 13) {
            throw fail("truncated or corrupt header: metadata count " + Long.toUnsignedString(kvCount) + " cannot fit in a file of " + fileSize + " bytes");
        }
        if (tensorCount < 0 || tensorCount > (fileSize - p.pos()) / 24) {
            throw fail("truncated or corrupt header: tensor count " + Long.toUnsignedString(tensorCount) + " cannot fit in a file of " + fileSize + " bytes");
        }

        Map<String, Object> meta = new LinkedHashMap<>();
        Map<String, GgufValueType> types = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = p.string("metadata key #" + i);
            String what = "metadata key '" + key + "'";
            GgufValueType type = p.valueType(what);
            Object value = p.value(type, what, 0);
            if (meta.put(key, value) != null) {
                throw fail("duplicate " + what);
            }
            types.put(key, type); // kept so error messages can say what was found
        }
        this.metadata = Collections.unmodifiableMap(meta);
        this.valueTypes = types;

        int align = DEFAULT_ALIGNMENT;
        if (meta.containsKey(ALIGNMENT_KEY)) {
            long a = getLong(ALIGNMENT_KEY);
            if (a <= 0 || a > (1 << 30) || Long.bitCount(a) != 1) {
                throw fail("metadata key '" + ALIGNMENT_KEY + "' is " + a + ", expected a power of two");
            }
            align = (int) a;
        }
        this.alignment = align;

        Map<String, GgufTensorInfo> infos = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = p.string("tensor info #" + i + " name");
            String what = "tensor '" + name + "'";
            int nDims = p.i32(what + " n_dims");
            if (nDims < 1 || nDims > 4) {
                throw fail(what + " has " + Integer.toUnsignedString(nDims) + " dimensions, expected 1..4");
            }
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = p.u64(what + " ne[" + d + "]");
                if (shape[d] <= 0) {
                    throw fail(what + " has dimension ne[" + d + "] = " + Long.toUnsignedString(shape[d]) + ", expected > 0");
                }
                if (elements > Long.MAX_VALUE / shape[d]) {
                    throw fail(what + " has too many elements");
                }
                elements *= shape[d];
            }
            int typeId = p.i32(what + " type");
            GgmlType type;
            try {
                type = GgmlType.fromId(typeId);
            } catch (IllegalArgumentException e) {
                throw fail(what + " has unknown ggml type id " + Integer.toUnsignedString(typeId));
            }
            if (shape[0] % type.blockSize() != 0) {
                throw fail(what + " of type " + type + " has ne[0] = " + shape[0]
                        + ", expected a multiple of the block size " + type.blockSize());
            }
            long offset = p.u64(what + " offset");
            if (offset < 0) {
                throw fail(what + " has offset " + Long.toUnsignedString(offset) + " beyond any file");
            }
            if (offset % alignment != 0) {
                throw fail(what + " data offset " + offset + " is not a multiple of the alignment " + alignment);
            }
            if (infos.put(name, new GgufTensorInfo(name, type, shape, offset)) != null) {
                throw fail("duplicate " + what);
            }
        }
        this.tensors = Collections.unmodifiableMap(infos);
        long pos = p.pos();
        this.dataStart = (pos + alignment - 1) / alignment * alignment;
        validateTensorRanges();
    }

    /** Opens and validates a GGUF file; the caller closes it. */
    public static GgufFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open GGUF file " + path + ": " + e.getMessage(), e);
        }
        try {
            return new GgufFile(path, ch);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("cannot read GGUF file " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing with a better message
        }
    }

    /** Every tensor lies inside the file and no two tensors share bytes. */
    private void validateTensorRanges() {
        List<GgufTensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(GgufTensorInfo::offset));
        GgufTensorInfo previous = null;
        for (GgufTensorInfo t : byOffset) {
            long size = t.byteSize();
            long end = dataStart + t.offset() + size;
            if (end > fileSize || end < 0) {
                throw fail("tensor '" + t.name() + "' data [" + (dataStart + t.offset()) + ", " + end
                        + ") lies beyond the end of the file (" + fileSize + " bytes): the file is truncated");
            }
            if (previous != null && previous.offset() + previous.byteSize() > t.offset()) {
                throw fail("tensor '" + t.name() + "' at data offset " + t.offset() + " overlaps tensor '"
                        + previous.name() + "' at " + previous.offset() + " (" + previous.byteSize() + " bytes)");
            }
            previous = t;
        }
    }

    GgufFormatException fail(String message) {
        return new GgufFormatException(path + ": " + message);
    }

    public Path path() {
        return path;
    }

    /** GGUF format version (2 or 3). */
    public int version() {
        return version;
    }

    /** Data alignment in bytes ({@code general.alignment}, default 32). */
    public int alignment() {
        return alignment;
    }

    /** Absolute file position of the data section. */
    public long dataStart() {
        return dataStart;
    }

    // ---------------------------------------------------------------- metadata

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    /** The keys in file order. */
    public Set<String> keys() {
        return metadata.keySet();
    }

    /** The raw value (see {@link GgufValueType} for the boxing), or null when the key is absent. */
    public Object get(String key) {
        return metadata.get(key);
    }

    /** The declared type of a key's value, or null when absent. */
    public GgufValueType typeOf(String key) {
        return valueTypes.get(key);
    }

    private Object require(String key, String expected) {
        Object v = metadata.get(key);
        if (v == null) {
            throw fail("metadata key '" + key + "' is missing (expected " + expected + ")");
        }
        return v;
    }

    private GgufFormatException wrongType(String key, String expected, Object value) {
        return fail("metadata key '" + key + "' is " + describe(key, value) + ", expected " + expected);
    }

    private String describe(String key, Object value) {
        GgufValueType t = typeOf(key);
        if (value instanceof GgufArray a) {
            return "an array of " + a.elementType() + " (" + a.size() + " elements)";
        }
        return (t == null ? value.getClass().getSimpleName() : t.toString()) + " " + value;
    }

    public String getString(String key) {
        Object v = require(key, "a string");
        if (v instanceof String s) {
            return s;
        }
        throw wrongType(key, "a string", v);
    }

    public String getString(String key, String defaultValue) {
        return has(key) ? getString(key) : defaultValue;
    }

    /** Any integer type whose value fits an int. */
    public int getInt(String key) {
        Object v = require(key, "an integer");
        Long l = integral(v);
        if (l == null || l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw wrongType(key, "an integer in the int range", v);
        }
        return (int) (long) l;
    }

    public int getInt(String key, int defaultValue) {
        return has(key) ? getInt(key) : defaultValue;
    }

    /** Any integer type whose value fits a long. */
    public long getLong(String key) {
        Object v = require(key, "an integer");
        Long l = integral(v);
        if (l == null) {
            throw wrongType(key, "an integer in the long range", v);
        }
        return l;
    }

    public long getLong(String key, long defaultValue) {
        return has(key) ? getLong(key) : defaultValue;
    }

    /** FLOAT32, FLOAT64 (narrowed) or any integer type. */
    public float getFloat(String key) {
        Object v = require(key, "a float");
        if (v instanceof Float || v instanceof Double || integral(v) != null) {
            return ((Number) v).floatValue();
        }
        throw wrongType(key, "a float", v);
    }

    public float getFloat(String key, float defaultValue) {
        return has(key) ? getFloat(key) : defaultValue;
    }

    public boolean getBoolean(String key) {
        Object v = require(key, "a bool");
        if (v instanceof Boolean b) {
            return b;
        }
        throw wrongType(key, "a bool", v);
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        return has(key) ? getBoolean(key) : defaultValue;
    }

    private GgufArray array(String key, String expected) {
        Object v = require(key, expected);
        if (v instanceof GgufArray a) {
            return a;
        }
        throw wrongType(key, expected, v);
    }

    public String[] getStringArray(String key) {
        GgufArray a = array(key, "an array of strings");
        if (a.elementType() != GgufValueType.STRING) {
            throw wrongType(key, "an array of strings", a);
        }
        return a.values().toArray(new String[0]);
    }

    /** An array of FLOAT32, FLOAT64 or integers. */
    public float[] getFloatArray(String key) {
        GgufArray a = array(key, "an array of floats");
        GgufValueType t = a.elementType();
        if (t != GgufValueType.FLOAT32 && t != GgufValueType.FLOAT64 && !t.isIntegral()) {
            throw wrongType(key, "an array of floats", a);
        }
        float[] out = new float[a.size()];
        List<Object> vs = a.values();
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) vs.get(i)).floatValue();
        }
        return out;
    }

    /** An array of any integer type whose values fit an int. */
    public int[] getIntArray(String key) {
        String expected = "an array of integers in the int range";
        GgufArray a = array(key, expected);
        if (!a.elementType().isIntegral()) {
            throw wrongType(key, expected, a);
        }
        int[] out = new int[a.size()];
        List<Object> vs = a.values();
        for (int i = 0; i < out.length; i++) {
            Long l = integral(vs.get(i));
            if (l == null || l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
                throw fail("metadata key '" + key + "' element " + i + " is " + vs.get(i) + ", expected " + expected);
            }
            out[i] = (int) (long) l;
        }
        return out;
    }

    private static Long integral(Object v) {
        if (v instanceof Byte || v instanceof Short || v instanceof Integer || v instanceof Long) {
            return ((Number) v).longValue();
        }
        return null; // BigInteger (uint64 ≥ 2^63), floats, strings, ...
    }

    // ---------------------------------------------------------------- tensors

    /** The tensor index in file order. */
    public Map<String, GgufTensorInfo> tensors() {
        return tensors;
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    public GgufTensorInfo tensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) {
            throw fail("tensor '" + name + "' is missing (the file has " + tensors.size() + " tensors)");
        }
        return t;
    }

    /**
     * The tensor's bytes: a read-only, little-endian, memory-mapped buffer positioned at 0. Each call
     * maps anew; callers keep the buffer (the mapping lives as long as the buffer, even after close()).
     */
    public ByteBuffer tensorData(String name) {
        GgufTensorInfo t = tensor(name);
        long size = t.byteSize();
        if (size > Integer.MAX_VALUE) {
            throw fail("tensor '" + name + "' is " + size + " bytes; tensors of 2 GiB or more are not supported "
                    + "(a Java ByteBuffer holds at most 2^31-1 bytes)");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.offset(), size)
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map tensor '" + name + "' of " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    // ---------------------------------------------------------------- header parsing

    /** A bounds-checked cursor over the mapped header: every read says what it was reading when it fails. */
    private final class HeaderParser {
        private final ByteBuffer buf;

        HeaderParser(ByteBuffer buf) {
            this.buf = buf;
        }

        long pos() {
            return buf.position();
        }

        private void need(long n, String what) {
            if (n > buf.remaining()) {
                if (buf.limit() < fileSize) {
                    throw fail("header is larger than 2 GiB at " + what);
                }
                throw fail("truncated at " + what + ": needs " + n + " bytes at offset " + buf.position()
                        + " but the file has " + buf.remaining() + " left (file size " + fileSize + ")");
            }
        }

        int i32(String what) {
            need(4, what);
            return buf.getInt();
        }

        long u64(String what) {
            need(8, what);
            return buf.getLong();
        }

        String string(String what) {
            long len = u64(what + " (string length)");
            if (len < 0 || len > buf.remaining()) {
                throw fail("truncated at " + what + ": string length " + Long.toUnsignedString(len) + " at offset "
                        + (buf.position() - 8) + " exceeds the " + buf.remaining() + " bytes left in the file");
            }
            byte[] bytes = new byte[(int) len];
            buf.get(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        }

        GgufValueType valueType(String what) {
            int id = i32(what + " type");
            GgufValueType t = GgufValueType.byIdOrNull(Integer.toUnsignedLong(id));
            if (t == null) {
                throw fail(what + " has unknown value type " + Integer.toUnsignedString(id) + " at offset "
                        + (buf.position() - 4) + ", expected 0..12");
            }
            return t;
        }

        Object value(GgufValueType type, String what, int depth) {
            switch (type) {
                case UINT8:
                    need(1, what);
                    return buf.get() & 0xFF;
                case INT8:
                    need(1, what);
                    return buf.get();
                case UINT16:
                    need(2, what);
                    return buf.getShort() & 0xFFFF;
                case INT16:
                    need(2, what);
                    return buf.getShort();
                case UINT32:
                    need(4, what);
                    return buf.getInt() & 0xFFFF_FFFFL;
                case INT32:
                    need(4, what);
                    return buf.getInt();
                case FLOAT32:
                    need(4, what);
                    return buf.getFloat();
                case BOOL: {
                    need(1, what);
                    int b = buf.get();
                    if (b != 0 && b != 1) {
                        throw fail(what + " is a bool with byte value " + b + ", expected 0 or 1");
                    }
                    return b == 1;
                }
                case STRING:
                    return string(what);
                case UINT64: {
                    long v = u64(what);
                    return v >= 0 ? (Object) v : new BigInteger(Long.toUnsignedString(v));
                }
                case INT64:
                    return u64(what);
                case FLOAT64:
                    need(8, what);
                    return buf.getDouble();
                case ARRAY:
                    return array(what, depth);
                default:
                    throw new AssertionError(type);
            }
        }

        private GgufArray array(String what, int depth) {
            if (depth > 16) {
                throw fail(what + " nests arrays more than 16 deep");
            }
            GgufValueType elem = valueType(what + " array element");
            long count = u64(what + " array length");
            if (count < 0 || count > buf.remaining() / elem.minBytes()) {
                throw fail("truncated at " + what + ": array of " + Long.toUnsignedString(count) + " " + elem
                        + " cannot fit in the " + buf.remaining() + " bytes left in the file");
            }
            List<Object> values = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                values.add(value(elem, what + "[" + i + "]", depth + 1));
            }
            return new GgufArray(elem, values);
        }
    }
}
