package io.inferstream.jobs.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.sink.ExactlyOnceKafkaSink;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.runtime.testing.SharedModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

/**
 * The start-up checks of the Kafka jobs, against the embedded broker (its transaction.max.timeout.ms lowered to
 * 10 min, as an operator might) and against a port where none listens.
 */
class KafkaPreflightTest {
    private static final Duration ANSWER = Duration.ofSeconds(20);

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker(Map.of(KafkaPreflight.MAX_TRANSACTION_TIMEOUT, "600000"));

    @Test
    void aReachableBrokerWithTheTopicAndATimeoutItAllowsGivesNothing() {
        KAFKA.broker().createTopic("preflight-requests", 1);
        assertEquals(new KafkaPreflight.Report(KAFKA.bootstrapServers(), List.of(), List.of(), List.of()),
                KafkaPreflight.check(KAFKA.bootstrapServers(),
                List.of("preflight-requests"), Duration.ofMinutes(10), ANSWER));
    }

    @Test
    void aMissingInputTopicIsNamed() {
        KafkaPreflight.Report r = KafkaPreflight.check(KAFKA.bootstrapServers(), List.of("no-such-topic"),
                Duration.ofMinutes(1), ANSWER);
        assertEquals(List.of("no-such-topic"), r.missingTopics(), r.toString());
        assertEquals(List.of(), r.warnings());
        assertEquals(List.of(), r.errors());
        assertEquals(List.of("topic 'no-such-topic' does not exist on " + KAFKA.bootstrapServers() + " (yet): the job's "
                + "Kafka source fails, and the job restarts, until it does; create it with the partitions you want"),
                r.missingTopicWarnings());
    }

    @Test
    void aTransactionTimeoutAboveTheBrokersMaximumIsAnErrorNamingBoth() {
        // the default (15 min) is the default broker's maximum, but this broker allows only 10 min
        KafkaPreflight.Report r = KafkaPreflight.check(KAFKA.bootstrapServers(), List.of(),
                ExactlyOnceKafkaSink.DEFAULT_TRANSACTION_TIMEOUT, ANSWER);
        assertEquals(List.of(), r.warnings());
        assertEquals(1, r.errors().size(), r.toString());
        String e = r.errors().get(0);
        assertTrue(e.startsWith("--transaction-timeout 15m exceeds transaction.max.timeout.ms = 600000 (10m) of broker "), e);
        assertTrue(e.contains(KAFKA.bootstrapServers()), e);
    }

    @Test
    @Timeout(120)
    void theStreamCommandStopsBeforeTheJobWhenTheBrokerWouldRefuseItsTransactions() {
        String model = SharedModels.require("stories260K/stories260K.gguf").toString();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = new CommandLine(new StreamingInferenceJob()).execute("--bootstrap-servers", KAFKA.bootstrapServers(),
                    "--model", model, "--bounded", "--output", "none", "--transaction-timeout", "11m");
        } finally {
            System.setErr(stderr);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        assertEquals(2, code, text);
        assertTrue(text.contains("ERROR: --transaction-timeout 11m exceeds transaction.max.timeout.ms = 600000 (10m)"), text);
    }

    @Test
    void anAddressWhereNoBrokerListensIsReportedWithinTheTimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // free once closed: nothing listens there
        }
        long t0 = System.nanoTime();
        KafkaPreflight.Report r = KafkaPreflight.check("localhost:" + port, List.of("prompts"), Duration.ofMinutes(1),
                Duration.ofSeconds(3));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, r.warnings().size(), r.toString());
        assertTrue(r.warnings().get(0).startsWith("no Kafka broker answered at localhost:" + port + " within 3 s"),
                r.warnings().get(0));
        assertEquals(List.of(), r.errors());
        assertTrue(seconds < 15, "gave up after " + seconds + " s");
    }
}
