package io.inferstream.jobs.digest;

import io.inferstream.schema.ChatMessage;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;

/**
 * Bounded out-of-orderness watermarks (largest event time seen − bound − 1 ms) emitted after every message
 * as well as periodically. Flink's periodic generator would let a fast reader take in a whole backlog
 * before the first watermark, so nothing in a replay would ever be late; this one makes event time advance
 * with the topic's order.
 */
final class EveryMessageWatermarks implements WatermarkGenerator<ChatMessage> {
    private final long bound; // ms
    private long maxTimestamp;
    private long emitted = Long.MIN_VALUE;

    EveryMessageWatermarks(long bound) {
        this.bound = bound;
        this.maxTimestamp = Long.MIN_VALUE + bound + 1;
    }

    @Override
    public void onEvent(ChatMessage event, long eventTimestamp, WatermarkOutput output) {
        maxTimestamp = Math.max(maxTimestamp, eventTimestamp);
        onPeriodicEmit(output);
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long watermark = maxTimestamp - bound - 1;
        if (watermark > emitted) {
            emitted = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }
}
