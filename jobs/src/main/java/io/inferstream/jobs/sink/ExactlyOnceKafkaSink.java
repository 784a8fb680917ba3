package io.inferstream.jobs.sink;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.util.function.SerializableFunction;

/**
 * Kafka sinks that write in transactions committed on Flink checkpoints, so a record appears to a
 * {@code read_committed} consumer exactly once even across restarts. Records become visible only
 * after the checkpoint that covers them completes: the checkpoint interval is the output latency.
 */
public final class ExactlyOnceKafkaSink {
    /**
     * Kafka transactions must be shorter than the broker's transaction.max.timeout.ms (15 min by
     * default) and longer than the longest checkpoint interval plus recovery time.
     */
    public static final long DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;

    private ExactlyOnceKafkaSink() {
    }

    /**
     * A sink to {@code topic}; values are serialized by {@code value}, keys are {@code key}'s UTF-8
     * bytes (records with equal keys go to one partition). {@code transactionalIdPrefix} must be
     * unique per sink and stable across restarts of the job.
     */
    public static <T> KafkaSink<T> create(String bootstrapServers, String topic, String transactionalIdPrefix,
            SerializationSchema<T> value, SerializableFunction<T, String> key) {
        SerializationSchema<T> keyBytes = element -> key.apply(element).getBytes(StandardCharsets.UTF_8);
        return KafkaSink.<T>builder()
                .setBootstrapServers(bootstrapServers)
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .setProperty("transaction.timeout.ms", Long.toString(DEFAULT_TRANSACTION_TIMEOUT_MS))
                .setRecordSerializer(KafkaRecordSerializationSchema.<T>builder()
                        .setTopic(topic)
                        .setKeySerializationSchema(keyBytes)
                        .setValueSerializationSchema(value)
                        .build())
                .build();
    }
}
