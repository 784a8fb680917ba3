package io.inferstream.jobs.testing;

import io.inferstream.jobs.kafka.EmbeddedKafkaBroker;
import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.SingleObjectCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The embedded Kafka broker of a job test class: started before its tests, closed after them. Register it with
 * {@code @RegisterExtension static final KafkaTestBroker KAFKA = new KafkaTestBroker();} next to
 * {@link FlinkTestCluster}; it creates a job's topics, produces its input and reads its committed output.
 */
public final class KafkaTestBroker implements BeforeAllCallback, AfterAllCallback {
    private final Map<String, String> overrides;
    private EmbeddedKafkaBroker broker;

    /** A broker with the embedded defaults. */
    public KafkaTestBroker() {
        this(Map.of());
    }

    /** A broker with these broker properties over the defaults. */
    public KafkaTestBroker(Map<String, String> overrides) {
        this.overrides = Map.copyOf(overrides);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        long t = System.nanoTime();
        broker = EmbeddedKafkaBroker.start(overrides);
        System.out.printf("broker started in %d ms%n", (System.nanoTime() - t) / 1_000_000);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (broker != null) {
            broker.close();
            broker = null;
        }
    }

    public EmbeddedKafkaBroker broker() {
        if (broker == null) {
            throw new IllegalStateException("the Kafka broker runs only while the test class runs");
        }
        return broker;
    }

    public String bootstrapServers() {
        return broker().bootstrapServers();
    }

    /** A job's three topics: input and output with their partition counts, and a one-partition dead-letter topic. */
    public void createTopics(String input, int inputPartitions, String output, int outputPartitions, String deadLetters) {
        broker().createTopic(input, inputPartitions);
        broker().createTopic(output, outputPartitions);
        broker().createTopic(deadLetters, 1);
    }

    /** Sends every payload to {@code topic} (no key) and waits until all are acknowledged. */
    public void produce(String topic, List<byte[]> payloads) {
        CommittedTopic.produce(broker(), topic, payloads);
    }

    /** The records of {@code topic} a read_committed consumer sees (see {@link CommittedTopic#read}). */
    public List<ConsumerRecord<byte[], byte[]>> read(String topic, int expected) {
        return CommittedTopic.read(broker(), topic, expected);
    }

    /** As {@link #read(String, int)}, each value decoded as an Avro single-object record of {@code type}. */
    public <T extends SpecificRecord> List<T> read(String topic, int expected, Class<T> type)
            throws MalformedRecordException {
        SingleObjectCodec<T> codec = SingleObjectCodec.of(type);
        List<T> values = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : read(topic, expected)) {
            values.add(codec.decode(r.value()));
        }
        return values;
    }
}
