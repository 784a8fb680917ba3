package io.inferstream.jobs.wire;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.avro.io.Decoder;
import org.apache.avro.util.Utf8;

/**
 * An Avro binary decoder over one in-memory record that never trusts a length prefix: every
 * string, bytes and block length is checked against the bytes that remain before anything is
 * allocated, and every string must be well-formed UTF-8.
 *
 * <p>Why not Avro's own BinaryDecoder: on untrusted input a corrupt length (say 2^31 - 9) makes it
 * allocate that many bytes before noticing the end of input, and it decodes invalid UTF-8 into
 * U+FFFD silently. A streaming job reads untrusted bytes, so both must be errors.
 */
final class BoundedBinaryDecoder extends Decoder {
    private final byte[] buf;
    private final int limit; // exclusive end of the record
    private int pos;

    BoundedBinaryDecoder(byte[] buf, int offset, int length) {
        this.buf = buf;
        this.pos = offset;
        this.limit = offset + length;
    }

    /** Bytes not yet consumed: a complete record leaves none. */
    int remaining() {
        return limit - pos;
    }

    int position() {
        return pos;
    }

    private int readByte() throws IOException {
        if (pos >= limit) {
            throw new EOFException("record ends early at byte " + pos);
        }
        return buf[pos++] & 0xff;
    }

    private void require(long length, String what) throws IOException {
        if (length < 0) {
            throw new IOException("negative " + what + " length " + length + " at byte " + pos);
        }
        if (length > limit - pos) {
            throw new IOException(what + " length " + length + " at byte " + pos + " exceeds the "
                    + (limit - pos) + " bytes left in the record");
        }
    }

    @Override
    public void readNull() {
    }

    @Override
    public boolean readBoolean() throws IOException {
        int b = readByte();
        if (b > 1) {
            throw new IOException("boolean byte " + b + " at byte " + (pos - 1) + " is neither 0 nor 1");
        }
        return b == 1;
    }

    @Override
    public int readInt() throws IOException {
        long value = readLong();
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw new IOException("int value " + value + " out of range at byte " + pos);
        }
        return (int) value;
    }

    @Override
    public long readLong() throws IOException {
        // zig-zag varint, at most 10 bytes
        long raw = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            int b = readByte();
            raw |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw new IOException("varint longer than 10 bytes at byte " + pos);
    }

    @Override
    public float readFloat() throws IOException {
        require(4, "float");
        int bits = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16
                | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    @Override
    public double readDouble() throws IOException {
        require(8, "double");
        long bits = 0;
        for (int i = 7; i >= 0; i--) {
            bits = (bits << 8) | (buf[pos + i] & 0xff);
        }
        pos += 8;
        return Double.longBitsToDouble(bits);
    }

    @Override
    public Utf8 readString(Utf8 old) throws IOException {
        return new Utf8(readString());
    }

    @Override
    public String readString() throws IOException {
        long length = readLong();
        require(length, "string");
        int start = pos;
        pos += (int) length;
        try {
            return StrictUtf8.decode(buf, start, (int) length, "string at byte " + start, 0);
        } catch (MalformedRecordException e) {
            throw new IOException(e.getMessage());
        }
    }

    @Override
    public void skipString() throws IOException {
        skipBytes();
    }

    @Override
    public ByteBuffer readBytes(ByteBuffer old) throws IOException {
        long length = readLong();
        require(length, "bytes");
        byte[] copy = new byte[(int) length];
        System.arraycopy(buf, pos, copy, 0, (int) length);
        pos += (int) length;
        return ByteBuffer.wrap(copy);
    }

    @Override
    public void skipBytes() throws IOException {
        long length = readLong();
        require(length, "bytes");
        pos += (int) length;
    }

    @Override
    public void readFixed(byte[] bytes, int start, int length) throws IOException {
        require(length, "fixed");
        System.arraycopy(buf, pos, bytes, start, length);
        pos += length;
    }

    @Override
    public void skipFixed(int length) throws IOException {
        require(length, "fixed");
        pos += length;
    }

    @Override
    public int readEnum() throws IOException {
        return readInt();
    }

    /**
     * Block item count. A negative count is followed by the block's byte size. Each item of our
     * schemas takes at least one byte, so a count above the bytes left is corrupt; refusing it
     * keeps a reader from pre-sizing a huge collection.
     */
    private long readItemCount() throws IOException {
        long count = readLong();
        if (count < 0) {
            readLong(); // block size in bytes, not needed when reading every item
            count = -count;
        }
        require(count, "block item count");
        return count;
    }

    @Override
    public long readArrayStart() throws IOException {
        return readItemCount();
    }

    @Override
    public long arrayNext() throws IOException {
        return readItemCount();
    }

    @Override
    public long skipArray() throws IOException {
        long count = readLong();
        while (count < 0) { // blocks with byte sizes can be skipped whole
            long size = readLong();
            require(size, "array block");
            pos += (int) size;
            count = readLong();
        }
        require(count, "block item count");
        return count;
    }

    @Override
    public long readMapStart() throws IOException {
        return readItemCount();
    }

    @Override
    public long mapNext() throws IOException {
        return readItemCount();
    }

    @Override
    public long skipMap() throws IOException {
        return skipArray();
    }

    @Override
    public int readIndex() throws IOException {
        return readInt();
    }
}
