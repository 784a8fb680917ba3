package io.inferstream.jobs.digest;

import io.inferstream.jobs.sink.ExactlyOnceKafkaSink;
import io.inferstream.jobs.sink.SingleObjectSerializer;
import io.inferstream.jobs.source.RawRecord;
import io.inferstream.jobs.source.RequestKafkaSource;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.Digest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.OutputTag;

/**
 * The digest job's data flow:
 *
 * <pre>
 *  KafkaSource(messages) → decode ─┬─ messages → event-time watermarks → keyBy(conversation_id)
 *                                  │      → session | tumbling window (allowed lateness) → transcript parts
 *                                  │      → async SUMMARIZE on the shared engine ─┬→ KafkaSink(digests, exactly-once)
 *                                  │                                              └→ FileSink(Parquet, conversation=…/date=…)
 *                                  ├─ malformed → KafkaSink(dead letters, exactly-once)
 *                                  └─ (window) too late → dead letter "late by X ms beyond allowed lateness" ┘
 * </pre>
 *
 * @param transactionTimeout how long a Kafka transaction may stay open (see
 *                      {@link ExactlyOnceKafkaSink#DEFAULT_TRANSACTION_TIMEOUT})
 * @param parquetPath   Parquet base folder (a Flink path), or null for none
 * @param bounded       read the topic from earliest to its end at start, then finish (the final watermark fires
 *                      every window)
 * @param ordered       emit digests in window-firing order (else as they finish)
 * @param capacity      windows being summarized at once per subtask
 */
public record DigestPipeline(
        String bootstrapServers,
        String messagesTopic,
        String digestsTopic,
        String deadLetterTopic,
        String groupId,
        String transactionalIdPrefix,
        Duration transactionTimeout,
        String parquetPath,
        boolean bounded,
        DigestWindowing windowing,
        ChatMessageDecoder decoder,
        SummarizeWindowFunction summarize,
        boolean ordered,
        int capacity) {

    /** Late messages beyond the allowed lateness, from the window operator. */
    public static final OutputTag<ChatMessage> TOO_LATE = new OutputTag<>("too-late-messages") { };

    /** The streams the pipeline made. */
    public record Streams(DataStream<ChatMessage> messages, DataStream<Digest> digests, DataStream<DeadLetter> deadLetters) {
    }

    public Streams addTo(StreamExecutionEnvironment env) {
        KafkaSource<RawRecord> source = bounded
                ? RequestKafkaSource.boundedFromEarliest(bootstrapServers, List.of(messagesTopic), groupId)
                : RequestKafkaSource.unbounded(bootstrapServers, List.of(messagesTopic), groupId);
        SingleOutputStreamOperator<ChatMessage> decoded = env
                .fromSource(source, WatermarkStrategy.noWatermarks(), "messages").uid("messages-source")
                .process(new DecodeChatMessagesFunction(decoder)).name("decode").uid("decode");
        DataStream<DeadLetter> malformed = decoded.getSideOutput(DecodeChatMessagesFunction.deadLetters());

        // Watermarks after decoding: only messages carry an event time. With parallelism 1 per partition this
        // keeps the topic's order; idleness keeps a silent subtask from holding event time back.
        DataStream<ChatMessage> messages = decoded.assignTimestampsAndWatermarks(windowing.watermarks())
                .name("event-time").uid("event-time");
        SingleOutputStreamOperator<DigestWindow> windows = windows(messages, windowing);
        DataStream<DeadLetter> tooLate = windows.getSideOutput(TOO_LATE)
                .process(new LateMessageFunction(windowing, messagesTopic)).name("too-late").uid("too-late");

        long timeout = summarize.timeoutMs();
        SingleOutputStreamOperator<Digest> digests = ordered
                ? AsyncDataStream.orderedWait(windows, summarize, timeout, TimeUnit.MILLISECONDS, capacity)
                : AsyncDataStream.unorderedWait(windows, summarize, timeout, TimeUnit.MILLISECONDS, capacity);
        digests.name("summarize").uid("summarize");

        digests.sinkTo(ExactlyOnceKafkaSink.create(bootstrapServers, digestsTopic, transactionalIdPrefix + "-digests",
                        transactionTimeout, new SingleObjectSerializer<>(Digest.class), DigestPipeline::key))
                .name("digests-kafka").uid("digests-kafka");
        if (parquetPath != null) {
            digests.sinkTo(DigestParquetSink.create(parquetPath)).name("digests-parquet").uid("digests-parquet");
        }
        DataStream<DeadLetter> deadLetters = malformed.union(tooLate);
        deadLetters.sinkTo(ExactlyOnceKafkaSink.create(bootstrapServers, deadLetterTopic,
                        transactionalIdPrefix + "-dead-letters", transactionTimeout,
                        new SingleObjectSerializer<>(DeadLetter.class),
                        DigestPipeline::deadLetterKey))
                .name("dead-letters-kafka").uid("dead-letters-kafka");
        return new Streams(messages, digests, deadLetters);
    }

    /** Digests of one conversation share a key, hence a partition: their revisions stay in order. */
    static String key(Digest d) {
        return d.getConversationId();
    }

    private static String deadLetterKey(DeadLetter letter) {
        if (letter.getRequestId() != null) {
            return letter.getRequestId();
        }
        return letter.getSourceTopic() + "-" + letter.getSourcePartition() + "@" + letter.getSourceOffset();
    }

    /** The window stage: each conversation's messages in session or tumbling windows, fired into transcript parts. */
    static SingleOutputStreamOperator<DigestWindow> windows(DataStream<ChatMessage> messages, DigestWindowing windowing) {
        return messages
                .keyBy(ChatMessage::getConversationId)
                .window(windowing.assigner())
                .allowedLateness(windowing.lateness())
                .sideOutputLateData(TOO_LATE)
                .process(new TranscriptWindowFunction(windowing.maxMessages(), windowing.lateness().toMillis()))
                .name("windows").uid("windows");
    }
}
