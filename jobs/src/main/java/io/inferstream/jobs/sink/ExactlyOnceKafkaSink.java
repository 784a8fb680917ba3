package io.inferstream.jobs.sink;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
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
     * How long a transaction may stay open before the broker aborts it. One stays open from its first
     * record through a checkpoint interval and the checkpoint that commits it, and across a restart (a
     * model load included) when that checkpoint's commit is retried after a failure; shorter, the job
     * fails on its sink or, after a slow restart, loses that output. Brokers refuse more than their
     * {@code transaction.max.timeout.ms}, whose default is this: 15 min (Flink's own default, 1 h, is
     * refused by a default broker, and Kafka's producer default, 60 s, is outlived by a slow model).
     */
    public static final Duration DEFAULT_TRANSACTION_TIMEOUT = Duration.ofMinutes(15);

    private ExactlyOnceKafkaSink() {
    }

    /**
     * A sink to {@code topic}; values are serialized by {@code value}, keys are {@code key}'s UTF-8
     * bytes (records with equal keys go to one partition). {@code transactionalIdPrefix} must be
     * unique per sink and stable across restarts of the job; {@code transactionTimeout}: see
     * {@link #DEFAULT_TRANSACTION_TIMEOUT}.
     */
    public static <T> KafkaSink<T> create(String bootstrapServers, String topic, String transactionalIdPrefix,
            Duration transactionTimeout, SerializationSchema<T> value, SerializableFunction<T, String> key) {
        SerializationSchema<T> keyBytes = element -> key.apply(element).getBytes(StandardCharsets.UTF_8);
        return KafkaSink.<T>builder()
                .setBootstrapServers(bootstrapServers)
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .setProperty("transaction.timeout.ms", Long.toString(transactionTimeout.toMillis()))
                .setRecordSerializer(KafkaRecordSerializationSchema.<T>builder()
                        .setTopic(topic)
                        .setKeySerializationSchema(keyBytes)
                        .setValueSerializationSchema(value)
                        .build())
                .build();
    }
}
