package io.inferstream.jobs.digest;

import io.inferstream.jobs.decode.DeadLetters;
import io.inferstream.jobs.decode.RecordOrigin;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import java.time.Clock;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Messages that arrived after their window's allowed lateness (the window operator's late-data side output)
 * as dead letters: the message as Avro single-object bytes, and the reason "late by X ms beyond allowed
 * lateness" measured against the watermark the window operator had when the message came.
 */
public final class LateMessageFunction extends ProcessFunction<ChatMessage, DeadLetter> {
    private static final long serialVersionUID = 1L;

    private final DigestWindowing windowing;
    private final String topic;
    private transient SingleObjectCodec<ChatMessage> codec;
    private transient Clock clock;

    /** @param topic where the messages were read from (named in the dead letters) */
    public LateMessageFunction(DigestWindowing windowing, String topic) {
        this.windowing = windowing;
        this.topic = topic;
    }

    @Override
    public void open(OpenContext openContext) {
        codec = SingleObjectCodec.of(ChatMessage.class);
        clock = Clock.systemUTC();
    }

    @Override
    public void processElement(ChatMessage message, Context ctx, Collector<DeadLetter> out) {
        long watermark = ctx.timerService().currentWatermark();
        long eventTime = message.getEventTime().toEpochMilli();
        String reason = "late by " + windowing.lateByBeyondLateness(eventTime, watermark)
                + " ms beyond allowed lateness (" + windowing.lateness().toMillis() + " ms): event_time " + eventTime
                + ", its " + windowing.kind().name().toLowerCase(java.util.Locale.ROOT) + " window ends "
                + windowing.windowEndOf(eventTime) + ", watermark " + watermark;
        out.collect(DeadLetter.newBuilder(DeadLetters.of(codec.encode(message), RecordOrigin.unknown(), message.getId(), reason, clock))
                .setSourceTopic(topic).build());
    }
}
