package io.inferstream.jobs.digest;

import io.inferstream.schema.ChatMessage;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.WindowAssigner;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;

/**
 * The event-time settings of the digest job: window kind and size (tumbling) or gap (session), allowed
 * lateness, the watermark's bound on out-of-orderness, source idleness, and the most messages one digest
 * summarizes.
 *
 * @param size           tumbling: the window size; session: the gap that closes a session
 * @param lateness       how long after a window's end late messages still revise its digest
 * @param outOfOrderness how far behind the largest event time seen a message may be without being late
 * @param idleness       a source partition silent this long stops holding the watermark back (zero: never)
 * @param maxMessages    a window with more messages is digested in parts of at most this many
 */
public record DigestWindowing(WindowKind kind, Duration size, Duration lateness, Duration outOfOrderness,
        Duration idleness, int maxMessages) implements Serializable {

    public DigestWindowing {
        if (kind == null) {
            throw new IllegalArgumentException("window kind must be SESSION or TUMBLING, got null");
        }
        if (size == null || size.isNegative() || size.isZero()) {
            throw new IllegalArgumentException("window " + (kind == WindowKind.SESSION ? "gap" : "size") + " must be > 0, got " + size);
        }
        if (lateness == null || lateness.isNegative()) {
            throw new IllegalArgumentException("allowed lateness must be >= 0, got " + lateness);
        }
        if (outOfOrderness == null || outOfOrderness.isNegative()) {
            throw new IllegalArgumentException("watermark out-of-orderness must be >= 0, got " + outOfOrderness);
        }
        if (idleness == null || idleness.isNegative()) {
            throw new IllegalArgumentException("idleness must be >= 0 (0 = off), got " + idleness);
        }
        if (maxMessages < 1) {
            throw new IllegalArgumentException("max messages per window must be >= 1, got " + maxMessages);
        }
    }

    public WindowAssigner<Object, TimeWindow> assigner() {
        return kind == WindowKind.SESSION ? EventTimeSessionWindows.withGap(size) : TumblingEventTimeWindows.of(size);
    }

    /**
     * Watermarks from the messages' event times, a watermark after every message (so a replayed topic moves
     * event time forward message by message, not only every auto-watermark interval).
     */
    public WatermarkStrategy<ChatMessage> watermarks() {
        WatermarkStrategy<ChatMessage> s = WatermarkStrategy
                .<ChatMessage>forGenerator(context -> new EveryMessageWatermarks(outOfOrderness.toMillis()))
                .withTimestampAssigner((message, recordTimestamp) -> message.getEventTime().toEpochMilli());
        return idleness.isZero() ? s : s.withIdleness(idleness);
    }

    /**
     * The end (exclusive) of the window a lone message written at {@code eventTime} falls in: a session of
     * just this message, or its tumbling window // ms
     */
    public long windowEndOf(long eventTime) {
        if (kind == WindowKind.SESSION) {
            return eventTime + size.toMillis();
        }
        long start = TimeWindow.getWindowStartWithOffset(eventTime, 0, size.toMillis());
        return start + size.toMillis();
    }

    /**
     * How far past its last chance a message written at {@code eventTime} arrived, the watermark being
     * {@code watermark}: Flink drops a window's late data once watermark ≥ window end − 1 + lateness // ms
     */
    public long lateByBeyondLateness(long eventTime, long watermark) {
        return watermark - (windowEndOf(eventTime) - 1 + lateness.toMillis());
    }
}
