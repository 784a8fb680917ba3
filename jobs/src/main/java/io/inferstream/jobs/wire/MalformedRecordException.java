package io.inferstream.jobs.wire;

/**
 * A record's bytes could not be read as the expected schema. The message says what was wrong
 * (byte offset, field name, expected type) so that it can be stored as a dead letter's reason.
 */
public final class MalformedRecordException extends Exception {
    public MalformedRecordException(String message) {
        super(message);
    }

    public MalformedRecordException(String message, Throwable cause) {
        super(message, cause);
    }
}
