package io.inferstream.runtime.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text without ever emitting half a UTF-8 character: bytes of an
 * incomplete character are held back until the tokens that complete it arrive.
 */
public final class StreamingDecoder {

    private final Tokenizer tokenizer;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    public StreamingDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text that is now complete (possibly empty). */
    public String accept(int token) {
        byte[] b = tokenizer.tokenBytes(token);
        pending.write(b, 0, b.length);
        byte[] all = pending.toByteArray();
        int complete = completePrefixLength(all);
        pending.reset();
        pending.write(all, complete, all.length - complete);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Whatever is still held back, decoded leniently (invalid bytes become U+FFFD). */
    public String flush() {
        String s = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return s;
    }

    /** Length of the longest prefix that does not end inside a multi-byte UTF-8 character. */
    static int completePrefixLength(byte[] b) {
        int n = b.length;
        // Look back at most 3 bytes for the start of a character that is not finished yet.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) {
                continue; // continuation byte: keep looking for the lead byte
            }
            int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
