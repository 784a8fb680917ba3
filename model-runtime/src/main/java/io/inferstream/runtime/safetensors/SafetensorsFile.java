package io.inferstream.runtime.safetensors;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file: its {@code __metadata__}, tensor index and memory-mapped tensor data.
 *
 * <p>Layout: uint64 little-endian header length N, N bytes of UTF-8 JSON (the tensor index), then
 * the data section, which the header's {@code data_offsets} index.
 *
 * <p>The header is validated when the file is opened: a malformed file fails in {@link #open} with a
 * {@link SafetensorsFormatException} naming the file and the offending tensor or key, never later with an index
 * error. Unlike the reference implementation, gaps between tensors and bytes after the last one are accepted
 * (nothing reads them). Tensor data is mapped per tensor on request, so files over 2 GiB work; a single tensor
 * must be under 2 GiB (a Java {@link ByteBuffer} limit), otherwise {@link #tensorData} says so.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** The reference implementation's MAX_HEADER_SIZE: a longer header means a corrupt (or foreign) file. */
    static final long MAX_HEADER_LENGTH = 100_000_000;

    private final Path path;
    private final FileChannel channel;
    private final Map<String, String> metadata;
    private final List<SafetensorsTensor> tensors;
    private final Map<String, SafetensorsTensor> byName;

    private SafetensorsFile(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw fail("file is " + fileSize + " bytes, too short for the 8-byte header length: not a safetensors file");
        }
        ByteBuffer prefix = read(0, 8);
        long n = prefix.getLong(0);
        if (n < 0 || n > MAX_HEADER_LENGTH) {
            throw fail("header length " + Long.toUnsignedString(n) + " is larger than " + MAX_HEADER_LENGTH
                    + " bytes (the reference implementation's limit): not a safetensors file" + foreignHint(prefix));
        }
        if (n > fileSize - 8) {
            throw fail("header length " + n + " exceeds the " + (fileSize - 8) + " bytes after it (file size "
                    + fileSize + "): the file is truncated");
        }
        SafetensorsHeader header = SafetensorsHeader.parse(path, read(8, (int) n).array(), fileSize);
        this.metadata = header.metadata;
        this.tensors = header.tensors;
        this.byName = new HashMap<>();
        for (SafetensorsTensor t : tensors) {
            byName.put(t.name(), t);
        }
    }

    /** Reads and validates the header (does not read tensor data); the caller closes the file. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open safetensors file " + path + ": " + e.getMessage(), e);
        }
        try {
            return new SafetensorsFile(path, ch);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("cannot read safetensors file " + path + ": " + e.getMessage(), e);
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

    /** {@code length} bytes at {@code position}, little-endian, in a heap buffer. */
    private ByteBuffer read(long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (channel.read(buf, position + buf.position()) < 0) {
                throw new EOFException("file shrank while reading its header");
            }
        }
        return buf;
    }

    /** Files mistaken for safetensors: GGUF starts with its magic, which reads as an absurd header length. */
    private static String foreignHint(ByteBuffer prefix) {
        boolean gguf = prefix.get(0) == 'G' && prefix.get(1) == 'G' && prefix.get(2) == 'U' && prefix.get(3) == 'F';
        return gguf ? " (it starts with \"GGUF\": it is a GGUF file)" : "";
    }

    private SafetensorsFormatException fail(String message) {
        return new SafetensorsFormatException(path + ": " + message);
    }

    public Path path() {
        return path;
    }

    /** The header's {@code "__metadata__"} strings in file order; empty when absent. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor, in data-offset order. */
    public List<SafetensorsTensor> tensors() {
        return tensors;
    }

    public boolean hasTensor(String name) {
        return byName.containsKey(name);
    }

    /** The named tensor's entry; a {@link SafetensorsFormatException} naming the file and tensor when absent. */
    public SafetensorsTensor tensor(String name) {
        SafetensorsTensor t = byName.get(name);
        if (t == null) {
            throw fail("tensor '" + name + "' is missing (the file has " + tensors.size() + " tensors)");
        }
        return t;
    }

    /**
     * The tensor's bytes: a read-only, little-endian, memory-mapped buffer at position 0 with limit
     * {@link SafetensorsTensor#byteCount()}. Each call maps anew; the mapping lives as long as the buffer, even
     * after {@link #close()}.
     */
    public ByteBuffer tensorData(String name) {
        SafetensorsTensor t = tensor(name);
        long size = t.byteCount();
        if (size > Integer.MAX_VALUE) {
            throw fail("tensor '" + name + "' is " + size + " bytes; tensors of 2 GiB or more are not supported "
                    + "(a Java ByteBuffer holds at most 2^31-1 bytes)");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, t.begin(), size).order(ByteOrder.LITTLE_ENDIAN);
        } catch (ClosedChannelException e) {
            throw new IllegalStateException("cannot map tensor '" + name + "': " + path + " is closed", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map tensor '" + name + "' of " + path + ": " + e.getMessage(), e);
        }
    }

    /** Closes the file channel; idempotent. Buffers already returned by {@link #tensorData} stay readable. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + metadata.size() + " metadata keys, " + tensors.size() + " tensors]";
    }
}
