package io.inferstream.jobs.decode;

import io.inferstream.schema.DeadLetter;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.Arrays;

/** Building the dead letter of a record that a job could not process, for every decoder and job. */
public final class DeadLetters {
    /** Largest payload a dead letter keeps: 512 KiB, so that the dead letter fits a default Kafka record. */
    public static final int MAX_PAYLOAD = 512 * 1024;

    private DeadLetters() {
    }

    /**
     * A dead letter keeping the record's bytes (at most {@link #MAX_PAYLOAD} of them: the reason then says it was
     * cut), where it came from and why it was rejected.
     *
     * @param id the record's id when it could be read, else null
     */
    public static DeadLetter of(byte[] payload, RecordOrigin origin, String id, String reason, Clock clock) {
        byte[] kept = payload == null ? new byte[0] : payload;
        if (kept.length > MAX_PAYLOAD) {
            // A dead letter must itself fit a Kafka record (1 MiB by default), or the job would fail on it.
            reason = reason + " (dead-letter payload cut to its first " + MAX_PAYLOAD + " of " + kept.length + " bytes)";
            kept = Arrays.copyOf(kept, MAX_PAYLOAD);
        }
        return DeadLetter.newBuilder()
                .setPayload(ByteBuffer.wrap(kept))
                .setReason(reason)
                .setRequestId(id)
                .setSourceTopic(origin.topic())
                .setSourcePartition(origin.partition())
                .setSourceOffset(origin.offset())
                .setSourceFile(origin.file())
                .setFailedAt(clock.instant())
                .build();
    }
}
