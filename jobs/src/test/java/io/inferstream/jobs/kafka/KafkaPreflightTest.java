package io.inferstream.jobs.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.KafkaTestBroker;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The start-up warnings of the Kafka jobs, against the embedded broker and against a port where none listens. */
class KafkaPreflightTest {

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    void aReachableBrokerWithTheTopicGivesNoWarning() {
        KAFKA.broker().createTopic("preflight-requests", 1);
        assertEquals(List.of(), KafkaPreflight.warnings(KAFKA.bootstrapServers(), List.of("preflight-requests"),
                Duration.ofSeconds(20)));
    }

    @Test
    void aMissingInputTopicIsNamed() {
        List<String> w = KafkaPreflight.warnings(KAFKA.bootstrapServers(), List.of("no-such-topic"), Duration.ofSeconds(20));
        assertEquals(1, w.size(), w.toString());
        assertTrue(w.get(0).contains("topic 'no-such-topic' does not exist"), w.get(0));
    }

    @Test
    void anAddressWhereNoBrokerListensIsReportedWithinTheTimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // free once closed: nothing listens there
        }
        long t0 = System.nanoTime();
        List<String> w = KafkaPreflight.warnings("localhost:" + port, List.of("prompts"), Duration.ofSeconds(3));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, w.size(), w.toString());
        assertTrue(w.get(0).startsWith("no Kafka broker answered at localhost:" + port + " within 3 s"), w.get(0));
        assertTrue(seconds < 15, "gave up after " + seconds + " s");
    }
}
