package io.inferstream.jobs.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The exactly-once sink's transaction timeout against a real broker. A job stalls for seconds with a transaction
 * open, as a slow model step holds a checkpoint (an emulated GPU's steps take seconds). With Flink's own checkpoint
 * timeout, a transaction timeout shorter than the stall loses output; with the checkpoint timeout
 * {@link InferenceOptions} derives, the stalled checkpoint expires first and a restart delivers every record once;
 * the default timeout (15 min) outlasts the stall. The broker looks for timed-out transactions every 500 ms
 * instead of every 10 s.
 */
class TransactionTimeoutTest {
    private static final int RECORDS = 40;
    private static final long STALL_AT = 20;
    private static final long STALL_MS = 8_000;

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker(
            Map.of("transaction.abort.timed.out.transaction.cleanup.interval.ms", "500"));

    @Test
    @Timeout(120)
    void withFlinksCheckpointTimeoutAShortTransactionTimeoutLosesTheStalledRecords() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(200); // Flink's checkpoint timeout: 10 min
        List<String> committed;
        String outcome;
        try {
            run(env, "unguarded", Duration.ofSeconds(2));
            outcome = "the job finished";
        } catch (Exception e) {
            outcome = "the job failed: " + causes(e);
        }
        committed = committedKeys("unguarded", 0); // the job has ended: what it committed is there
        System.out.println(outcome + "; committed " + committed);
        // The broker aborted the stalled transaction: either the job failed on it, or (as Flink 2.x does) the
        // sink's commit of it was discarded with a log line and the job finished without those records.
        assertFalse(committed.contains(Long.toString(STALL_AT)), "the record sent before the stall is lost: " + committed);
        assertTrue(committed.size() < RECORDS, outcome);
    }

    @Test
    @Timeout(120)
    void theDerivedCheckpointTimeoutExpiresTheStalledCheckpointFirstAndTheRestartLosesNothing() throws Exception {
        InferenceOptions options = new InferenceOptions();
        options.checkpointInterval = Duration.ofMillis(200);
        options.transactionTimeout = Duration.ofSeconds(5);
        assertEquals(Duration.ofMillis(4320), options.checkpointTimeout(), "90 % of 5 s less an interval");
        Configuration restarts = new Configuration();
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(restarts);
        options.configure(env);
        run(env, "guarded", options.transactionTimeout);
        assertEquals(2, StallOnce.ATTEMPTS.get(), "the expired checkpoint failed the first attempt");
        assertEquals(allKeys(), committedKeys("guarded", RECORDS), "each record committed once after the restart");
    }

    @Test
    @Timeout(120)
    void theDefaultTimeoutOutlastsTheStallAndCommitsEveryRecordOnce() throws Exception {
        InferenceOptions options = new InferenceOptions();
        options.checkpointInterval = Duration.ofMillis(200);
        assertEquals(ExactlyOnceKafkaSink.DEFAULT_TRANSACTION_TIMEOUT, options.transactionTimeout);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        options.configure(env);
        run(env, "default", options.transactionTimeout);
        assertEquals(1, StallOnce.ATTEMPTS.get(), "no checkpoint expired, no restart");
        assertEquals(allKeys(), committedKeys("default", RECORDS), "each record committed once");
    }

    /** RECORDS numbers, stalling once after sending STALL_AT, into {@code topic} with {@code timeout}. */
    private static void run(StreamExecutionEnvironment env, String topic, Duration timeout) throws Exception {
        KAFKA.broker().createTopic(topic, 1);
        StallOnce.STALLED.set(false);
        StallOnce.ATTEMPTS.set(0);
        env.setParallelism(1);
        env.fromSequence(0, RECORDS - 1)
                .flatMap(new StallOnce()).name("stall")
                .sinkTo(ExactlyOnceKafkaSink.create(KAFKA.bootstrapServers(), topic, "timeout-test-" + topic, timeout,
                        new Decimal(), n -> Long.toString(n)));
        env.execute("transaction-timeout-" + topic);
        assertTrue(StallOnce.STALLED.get(), "the job stalled");
    }

    private static List<String> committedKeys(String topic, int expected) {
        return KAFKA.read(topic, expected).stream().map(r -> new String(r.key(), StandardCharsets.UTF_8))
                .sorted().collect(Collectors.toList());
    }

    private static List<String> allKeys() {
        return LongStream.range(0, RECORDS).mapToObj(Long::toString).sorted().collect(Collectors.toList());
    }

    private static String causes(Throwable e) {
        List<String> chain = new ArrayList<>();
        for (Throwable t = e; t != null; t = t.getCause()) {
            chain.add(t.getClass().getSimpleName() + ": " + t.getMessage());
        }
        return String.join(" <- ", chain);
    }

    /** A number's decimal digits (a class: Flink cannot infer a lambda's serialized type). */
    private static final class Decimal implements SerializationSchema<Long> {
        @Override
        public byte[] serialize(Long n) {
            return Long.toString(n).getBytes(StandardCharsets.UTF_8);
        }
    }

    /**
     * Passes numbers on; after passing STALL_AT on, sleeps STALL_MS, once in the JVM (a restarted job goes
     * through). Counts the attempts that opened it. The sink is chained, so that record is in the open transaction before the sleep, and no
     * checkpoint can complete until the sleep ends.
     */
    private static final class StallOnce extends RichFlatMapFunction<Long, Long> {
        static final AtomicBoolean STALLED = new AtomicBoolean();
        static final AtomicInteger ATTEMPTS = new AtomicInteger();

        @Override
        public void open(OpenContext context) {
            ATTEMPTS.incrementAndGet();
        }

        @Override
        public void flatMap(Long n, Collector<Long> out) throws InterruptedException {
            out.collect(n);
            if (n == STALL_AT && STALLED.compareAndSet(false, true)) {
                Thread.sleep(STALL_MS);
            }
        }
    }
}
