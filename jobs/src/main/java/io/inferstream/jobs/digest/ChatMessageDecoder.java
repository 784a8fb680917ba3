package io.inferstream.jobs.digest;

import io.inferstream.jobs.decode.DeadLetters;
import io.inferstream.jobs.decode.RecordOrigin;
import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.WireDecoder;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import java.io.Serializable;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one chat message from either wire format (Avro single-object or JSON, detected per record), as
 * requests are read; a record that is malformed or misses what windows need becomes a {@link DeadLetter}
 * with the reason. Never throws on bad input.
 */
public final class ChatMessageDecoder implements Serializable {
    private static final long serialVersionUID = 1L;

    private final WireDecoder<ChatMessage> wire = WireDecoder.of(ChatMessage.class);
    private final int maxTextBytes;
    private final Clock clock;

    /** @param maxTextBytes a message with a longer text (UTF-8 bytes) is dead-lettered */
    public ChatMessageDecoder(int maxTextBytes, Clock clock) {
        if (maxTextBytes < 1) {
            throw new IllegalArgumentException("max-text-bytes must be >= 1, got " + maxTextBytes);
        }
        this.maxTextBytes = maxTextBytes;
        this.clock = clock;
    }

    public ChatMessageDecoder(int maxTextBytes) {
        this(maxTextBytes, Clock.systemUTC());
    }

    public ChatMessageDecoder() {
        this(io.inferstream.jobs.decode.RequestValidator.DEFAULT_MAX_TEXT_BYTES);
    }

    /** The message, or null after handing {@code rejected} a dead letter. */
    public ChatMessage decode(byte[] payload, RecordOrigin origin, java.util.function.Consumer<DeadLetter> rejected) {
        ChatMessage message;
        try {
            message = wire.decode(payload);
        } catch (MalformedRecordException e) {
            rejected.accept(DeadLetters.of(payload, origin, null, e.getMessage(), clock));
            return null;
        } catch (RuntimeException e) {
            rejected.accept(DeadLetters.of(payload, origin, null, "unexpected decoding failure: " + e, clock));
            return null;
        }
        List<String> problems = new ArrayList<>();
        if (message.getId() == null || message.getId().isBlank()) {
            problems.add("id is blank");
        }
        if (message.getConversationId() == null || message.getConversationId().isBlank()) {
            problems.add("conversation_id is blank");
        }
        int textBytes = message.getText() == null ? 0 : message.getText().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (textBytes > maxTextBytes) {
            problems.add("text is " + textBytes + " bytes, more than max-text-bytes " + maxTextBytes);
        }
        if (message.getEventTime() == null || message.getEventTime().toEpochMilli() < 0) {
            problems.add("event_time must be >= 0 ms since the epoch, got " + message.getEventTime());
        }
        if (!problems.isEmpty()) {
            String id = message.getId() == null || message.getId().isBlank() ? null : message.getId();
            rejected.accept(DeadLetters.of(payload, origin, id, "invalid chat message: " + String.join("; ", problems), clock));
            return null;
        }
        return message;
    }
}
