package io.inferstream.jobs.digest;

/** How a conversation's messages are grouped into windows. */
public enum WindowKind {
    /** A window closes after a gap without messages (Flink event-time session windows). */
    SESSION,
    /** Fixed, back-to-back windows of one size, aligned to the epoch (Flink tumbling event-time windows). */
    TUMBLING
}
