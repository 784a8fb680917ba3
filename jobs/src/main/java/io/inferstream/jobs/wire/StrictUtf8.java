package io.inferstream.jobs.wire;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 decoding that rejects malformed bytes instead of replacing them with U+FFFD, so that a
 * corrupt record becomes a dead letter rather than a request with garbage text.
 */
public final class StrictUtf8 {
    private StrictUtf8() {
    }

    /**
     * Decodes {@code bytes[offset, offset + length)}; {@code what} names the bytes in the error
     * ("payload", "field 'text'") and {@code baseOffset} is added to reported positions.
     */
    public static String decode(byte[] bytes, int offset, int length, String what, int baseOffset)
            throws MalformedRecordException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, length);
        CharBuffer out = CharBuffer.allocate(length); // UTF-8 never needs more chars than bytes
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            throw new MalformedRecordException(what + " is not valid UTF-8: malformed byte sequence at byte "
                    + (baseOffset + in.position() - offset));
        }
        result = decoder.flush(out);
        if (result.isError()) {
            throw new MalformedRecordException(what + " is not valid UTF-8: truncated sequence at its end");
        }
        out.flip();
        return out.toString();
    }

    public static String decode(byte[] bytes, String what) throws MalformedRecordException {
        return decode(bytes, 0, bytes.length, what, 0);
    }

    /** True when the bytes are well-formed UTF-8. */
    public static boolean isValid(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
