package io.inferstream.jobs.source;

import java.util.List;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/**
 * The Kafka source of raw request records. It reads with {@code isolation.level=read_committed},
 * so requests from a transactional producer appear only once committed. Offsets live in Flink
 * checkpoints; the consumer group's committed offsets are only used to start a fresh job.
 */
public final class RequestKafkaSource {
    private RequestKafkaSource() {
    }

    /**
     * A source that starts at the group's committed offsets (earliest when it has none) and runs
     * until cancelled.
     */
    public static KafkaSource<RawRecord> unbounded(String bootstrapServers, List<String> topics, String groupId) {
        return builder(bootstrapServers, topics, groupId)
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .build();
    }

    /**
     * A source that reads every topic from the earliest offset up to the latest offset seen when
     * the job starts, then finishes: a replay, or a test job that ends by itself.
     */
    public static KafkaSource<RawRecord> boundedFromEarliest(String bootstrapServers, List<String> topics,
            String groupId) {
        return builder(bootstrapServers, topics, groupId)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .build();
    }

    public static KafkaSourceBuilder<RawRecord> builder(String bootstrapServers, List<String> topics, String groupId) {
        return KafkaSource.<RawRecord>builder()
                .setBootstrapServers(bootstrapServers)
                .setTopics(topics)
                .setGroupId(groupId)
                .setDeserializer(new RawRecordDeserializer())
                .setProperty("isolation.level", "read_committed");
    }
}
