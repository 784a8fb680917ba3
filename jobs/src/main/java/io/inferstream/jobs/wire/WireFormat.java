package io.inferstream.jobs.wire;

/**
 * The two encodings accepted for a record, told apart by its first bytes, per record: producers
 * may mix them on one topic.
 */
public enum WireFormat {
    /** Avro single-object encoding: C3 01, 8-byte little-endian CRC-64-AVRO schema fingerprint, binary body. */
    AVRO_SINGLE_OBJECT,
    /** One UTF-8 JSON object, field names as in the Avro schema. */
    JSON;

    static final byte MAGIC_0 = (byte) 0xC3;
    static final byte MAGIC_1 = (byte) 0x01;

    /** The format of {@code payload}, judged from its first bytes. */
    public static WireFormat detect(byte[] payload) throws MalformedRecordException {
        if (payload == null || payload.length == 0) {
            throw new MalformedRecordException("empty payload");
        }
        if (payload.length >= 2 && payload[0] == MAGIC_0 && payload[1] == MAGIC_1) {
            return AVRO_SINGLE_OBJECT;
        }
        int i = 0;
        if (payload.length >= 3 && (payload[0] & 0xff) == 0xEF && (payload[1] & 0xff) == 0xBB
                && (payload[2] & 0xff) == 0xBF) {
            i = 3; // UTF-8 byte order mark
        }
        while (i < payload.length && isJsonWhitespace(payload[i])) {
            i++;
        }
        if (i < payload.length && payload[i] == '{') {
            return JSON;
        }
        if (i == payload.length) {
            throw new MalformedRecordException("payload is only whitespace");
        }
        throw new MalformedRecordException(String.format(
                "unrecognized wire format: byte 0x%02X at offset %d is neither the Avro single-object marker C3 01"
                        + " nor the '{' that starts a JSON object", payload[i] & 0xff, i));
    }

    private static boolean isJsonWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }
}
