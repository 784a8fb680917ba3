package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.jobs.wire.JsonRecordCodec;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.Digest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The digest job end to end on the embedded Kafka broker, a Flink MiniCluster and stories260K: three interleaved
 * conversations with 60 s session gaps, out-of-order, late and too-late messages, and one session too long for
 * the (deliberately small) context. The expected windows are worked out by hand from the event times below.
 */
class DigestJobTest {
    private static final long T0 = Instant.parse("2026-01-15T09:00:00Z").toEpochMilli();
    private static final long GAP = 60_000;        // ms
    private static final long OUT_OF_ORDER = 5_000; // ms
    private static final long LATENESS = 120_000;   // ms
    private static final int LONG_SESSION = 30;     // messages of team-3 after its first
    private static final int MAX_MESSAGES = 16;     // per digest: team-3's 31-message session is digested in 2 parts

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    private static ChatMessage message(String id, String conversation, String author, double seconds, String text) {
        return ChatMessage.newBuilder().setId(id).setConversationId(conversation).setAuthor(author).setText(text)
                .setEventTime(Instant.ofEpochMilli(T0 + Math.round(seconds * 1000))).setMetadata(Map.of("client", "test"))
                .build();
    }

    /** The messages in arrival (topic) order; comments give the watermark (max event time − 5 s − 1 ms). */
    static List<ChatMessage> arrivals() {
        List<ChatMessage> m = new ArrayList<>();
        m.add(message("a1", "ticket-1", "maria", 0, "I was charged twice for my subscription."));
        m.add(message("b1", "ticket-2", "tom", 5, "My parcel is three days late."));
        m.add(message("a2", "ticket-1", "agent", 10, "Sorry about that, I will check the payments."));
        m.add(message("a3", "ticket-1", "agent", 22, "I see two charges and refunded one of them."));
        m.add(message("b2", "ticket-2", "agent", 18, "Let me look up the tracking number.")); // 4 s behind: on time
        m.add(message("c1", "team-3", "alice", 30, "The cache filled up on node one this morning."));
        m.add(message("b3", "ticket-2", "agent", 40, "It is now sent by express and arrives tomorrow."));
        for (int i = 0; i < LONG_SESSION; i++) { // team-3 keeps talking every 5 s: 35 s … 180 s
            m.add(message(String.format("c%02d", i + 2), "team-3", i % 2 == 0 ? "bob" : "alice", 35 + 5 * i,
                    "Step " + (i + 1) + " of the fix: we moved batch " + (i + 7) + " to the other pool and the queue got shorter."));
        }
        // watermark now 174.999 s: ticket-1 [0, 82 s) and ticket-2 [5, 100 s) have fired
        m.add(message("a-late", "ticket-1", "maria", 25, "Thanks, I see the refund now.")); // late, within the lateness
        m.add(message("a4", "ticket-1", "maria", 300, "Now the confirmation email shows the wrong amount."));
        m.add(message("a5", "ticket-1", "agent", 310, "I will send a corrected email."));
        // watermark 304.999 s: ticket-2's first session was purged at 100 s − 1 ms + 120 s
        m.add(message("b-too-late", "ticket-2", "tom", 45, "Great, thank you!"));
        m.add(message("b4", "ticket-2", "tom", 320, "It arrived, all good."));
        return m;
    }

    /** conversation, window start and end (s after T0), revision → message ids, as worked out from {@link #arrivals}. */
    static Map<String, List<String>> expectedWindows() {
        Map<String, List<String>> w = new TreeMap<>();
        w.put(key("ticket-1", 0, 82, 0), List.of("a1", "a2", "a3"));
        w.put(key("ticket-1", 0, 85, 1), List.of("a1", "a2", "a3", "a-late")); // [25, 85) merged into [0, 82)
        w.put(key("ticket-1", 300, 370, 0), List.of("a4", "a5"));
        w.put(key("ticket-2", 5, 100, 0), List.of("b1", "b2", "b3"));
        w.put(key("ticket-2", 320, 380, 0), List.of("b4"));
        List<String> team = new ArrayList<>(List.of("c1"));
        for (int i = 0; i < LONG_SESSION; i++) {
            team.add(String.format("c%02d", i + 2));
        }
        w.put(key("team-3", 30, 240, 0) + " p0/2", team.subList(0, MAX_MESSAGES));
        w.put(key("team-3", 30, 240, 0) + " p1/2", team.subList(MAX_MESSAGES, team.size()));
        return w;
    }

    private static String key(String conversation, long startS, long endS, int revision) {
        return conversation + " [" + startS + "s, " + endS + "s) r" + revision;
    }

    private static String key(Digest d) {
        String window = key(d.getConversationId(), (d.getWindowStart().toEpochMilli() - T0) / 1000,
                (d.getWindowEnd().toEpochMilli() - T0) / 1000, d.getRevision());
        return d.getParts() == 1 ? window : window + " p" + d.getPart() + "/" + d.getParts();
    }

    private DigestJob job(Path out, String suffix, boolean bounded) {
        return job(out, suffix, bounded, "--window", "session", "--gap", "60s");
    }

    private DigestJob job(Path out, String suffix, boolean bounded, String... window) {
        Path model = SharedModels.require("stories260K/stories260K.gguf");
        DigestJob job = new DigestJob();
        List<String> args = new ArrayList<>(List.of("--bootstrap-servers", KAFKA.bootstrapServers(),
                "--messages-topic", "messages-" + suffix, "--digests-topic", "digests-" + suffix,
                "--dead-letter-topic", "dead-" + suffix, "--group-id", "digest-" + suffix,
                "--transactional-id-prefix", "digest-" + suffix, "--output", out.toUri().toString(),
                "--model", model.toString(),
                "--allowed-lateness", "120s", "--out-of-orderness", "5s", "--idleness", "0s",
                "--max-new-tokens", "8", "--max-new-tokens-cap", "8", "--context-tokens", "256",
                "--max-messages", Integer.toString(MAX_MESSAGES), "--checkpoint-interval", "500ms"));
        args.addAll(List.of(window));
        new CommandLine(job).parseArgs(args.toArray(new String[0]));
        job.bounded = bounded;
        return job;
    }

    private void produce(String suffix, List<ChatMessage> messages) {
        String topic = "messages-" + suffix;
        // one input partition: the arrival order is the order the watermark sees
        KAFKA.createTopics(topic, 1, "digests-" + suffix, 2, "dead-" + suffix);
        appendMessages(topic, messages);
    }

    /** Half the messages as Avro single-object records, half as JSON: the decoder reads both. */
    private static void appendMessages(String topic, List<ChatMessage> messages) {
        SingleObjectCodec<ChatMessage> avro = SingleObjectCodec.of(ChatMessage.class);
        JsonRecordCodec<ChatMessage> json = JsonRecordCodec.of(ChatMessage.class);
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            payloads.add(i % 2 == 0 ? avro.encode(messages.get(i)) : json.encode(messages.get(i)));
        }
        KAFKA.produce(topic, payloads);
    }

    private static List<Digest> committedDigests(String topic, int expected) throws Exception {
        SingleObjectCodec<Digest> codec = SingleObjectCodec.of(Digest.class);
        List<Digest> digests = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : KAFKA.read(topic, expected)) {
            Digest d = codec.decode(r.value());
            assertEquals(d.getConversationId(), new String(r.key(), StandardCharsets.UTF_8), "key of " + key(d));
            digests.add(d);
        }
        return digests;
    }

    /** Each expected window exactly once, listing exactly its messages in event-time order. */
    private static void assertWindows(List<Digest> digests, String where) {
        assertWindows(expectedWindows(), digests, where);
    }

    private static void assertWindows(Map<String, List<String>> expected, List<Digest> digests, String where) {
        Map<String, List<String>> got = new TreeMap<>();
        for (Digest d : digests) {
            List<String> previous = got.put(key(d), d.getMessageIds());
            assertNull(previous, where + ": " + key(d) + " more than once");
            assertEquals(d.getMessageIds().size(), d.getMessageCount(), where + ": count of " + key(d));
        }
        assertEquals(expected, got, where);
    }

    private static void assertTooLate(String topic) throws Exception {
        // watermark 310 s − 5 s − 1 ms; b-too-late's own session [45 s, 105 s) was droppable from 105 s − 1 ms + 120 s
        assertTooLate(topic, (T0 + 310_000 - OUT_OF_ORDER - 1) - (T0 + 45_000 + GAP - 1 + LATENESS));
    }

    private static void assertTooLate(String topic, long lateBy) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> records = KAFKA.read(topic, 1);
        assertEquals(1, records.size(), "one dead letter");
        DeadLetter letter = SingleObjectCodec.of(DeadLetter.class).decode(records.get(0).value());
        assertEquals("b-too-late", letter.getRequestId());
        assertTrue(letter.getReason().startsWith("late by " + lateBy + " ms beyond allowed lateness"), letter.getReason());
        ChatMessage kept = SingleObjectCodec.of(ChatMessage.class).decode(letter.getPayload().array());
        assertEquals("Great, thank you!", kept.getText());
    }

    @Test
    @Timeout(120)
    void interleavedConversationsGetOneDigestPerSessionWithLateRevisionsAndHierarchicalSummaries(@TempDir Path out)
            throws Exception {
        produce("a", arrivals());
        DigestJob job = job(out, "a", true);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.inference.configure(env);
        job.pipeline(SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString(), "stories260K").addTo(env);
        long t0 = System.nanoTime();
        env.execute("digest-job-test");
        System.out.printf("digest job ran in %d ms%n", (System.nanoTime() - t0) / 1_000_000);

        List<Digest> digests = committedDigests("digests-a", expectedWindows().size());
        digests.forEach(d -> System.out.printf("%s: %d chunks, %d prompt tokens: %s%n", key(d), d.getChunks(),
                d.getPromptTokens(), d.getSummary()));
        assertWindows(digests, "digest topic");
        assertWindows(FinishedDigests.read(out), "Parquet files");
        assertTooLate("dead-a");

        for (Digest d : digests) {
            String what = key(d);
            assertNull(d.getError(), what);
            assertNotNull(d.getSummary(), what);
            assertTrue(d.getPromptTokens() > 0 && d.getCompletionTokens() >= 1, what + " tokens");
            if (d.getConversationId().equals("team-3")) {
                // 15-16 lines of ~90 characters are far beyond a 256-token context: map-reduce over several chunks
                assertTrue(d.getChunks() >= 3, what + " chunks " + d.getChunks());
                assertTrue(d.getPromptTokens() > 256, what + " read more than one context");
            } else {
                assertEquals(1, d.getChunks(), what + " fits one context");
            }
        }
    }

    @Test
    @Timeout(90)
    void tumblingWindowsSplitAtMinuteBoundariesAndALateMessageRevisesItsMinute(@TempDir Path out) throws Exception {
        produce("t", arrivals());
        DigestJob job = job(out, "t", true, "--window", "tumbling", "--size", "60s");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.inference.configure(env);
        job.pipeline(SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString(), "stories260K").addTo(env);
        env.execute("digest-job-tumbling-test");

        // T0 is a whole minute, so the windows are [0, 60 s), [60 s, 120 s), …
        Map<String, List<String>> expected = new TreeMap<>();
        expected.put(key("ticket-1", 0, 60, 0), List.of("a1", "a2", "a3"));
        expected.put(key("ticket-1", 0, 60, 1), List.of("a1", "a2", "a3", "a-late")); // watermark 175 s < 60 s − 1 ms + 120 s
        expected.put(key("ticket-1", 300, 360, 0), List.of("a4", "a5"));
        expected.put(key("ticket-2", 0, 60, 0), List.of("b1", "b2", "b3"));
        expected.put(key("ticket-2", 300, 360, 0), List.of("b4"));
        List<String> team = new ArrayList<>(List.of("c1"));
        for (int i = 0; i < LONG_SESSION; i++) {
            team.add(String.format("c%02d", i + 2)); // c02 at 35 s, c03 at 40 s, … c31 at 180 s
        }
        expected.put(key("team-3", 0, 60, 0), team.subList(0, 6));      // 30 s … 55 s
        expected.put(key("team-3", 60, 120, 0), team.subList(6, 18));   // 60 s … 115 s
        expected.put(key("team-3", 120, 180, 0), team.subList(18, 30)); // 120 s … 175 s
        expected.put(key("team-3", 180, 240, 0), team.subList(30, 31)); // 180 s
        assertWindows(expected, committedDigests("digests-t", expected.size()), "digest topic");
        assertWindows(expected, FinishedDigests.read(out), "Parquet files");
        // b-too-late (45 s) belongs to [0, 60 s), droppable from 60 s − 1 ms + 120 s; the watermark was 305 s − 1 ms
        assertTooLate("dead-t", (T0 + 310_000 - OUT_OF_ORDER - 1) - (T0 + 60_000 - 1 + LATENESS));
    }

    /** Fails the job once, at the revision-1 digest: the restarted job must not count that revision twice. */
    static final class FailAtFirstRevision implements MapFunction<Digest, Digest> {
        static final AtomicBoolean FAILED = new AtomicBoolean();

        @Override
        public Digest map(Digest d) {
            if (d.getRevision() == 1 && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("injected failure at " + key(d));
            }
            return d;
        }
    }

    @Test
    @Timeout(120)
    void digestsAreExactlyOnceAcrossAnInjectedFailure(@TempDir Path out) throws Exception {
        // Unbounded: the first digests are committed by a checkpoint before the rest of the messages arrive and
        // the failure hits, so the restart resumes from a checkpoint holding fired windows and their revisions.
        List<ChatMessage> arrivals = arrivals();
        int phaseOne = 0;
        while (!arrivals.get(phaseOne).getId().equals("a-late")) {
            phaseOne++;
        }
        List<ChatMessage> phaseTwo = new ArrayList<>(arrivals.subList(phaseOne, arrivals.size()));
        // a message far ahead in another conversation moves the watermark past the last sessions' ends
        phaseTwo.add(message("clock", "zz-clock", "bot", 1000, "Hourly check."));
        produce("b", arrivals.subList(0, phaseOne));
        FailAtFirstRevision.FAILED.set(false);

        DigestJob job = job(out, "b", false);
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, java.time.Duration.ofMillis(200));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        job.inference.configure(env);
        DigestPipeline.Streams streams = job.pipeline(
                SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString(), "stories260K").addTo(env);
        // The failing operator reads the digests, so its failure restarts the whole (one-region) job from a checkpoint.
        streams.digests().map(new FailAtFirstRevision()).name("fail-once").sinkTo(new DiscardingSink<>());
        JobClient client = env.executeAsync("digest-job-failure-test");
        try {
            long committedBy = System.nanoTime() + 80_000_000_000L; // job start and model load on a loaded machine
            List<Digest> first = committedDigests("digests-b", 2);
            while (first.size() < 2 && System.nanoTime() < committedBy) {
                first = committedDigests("digests-b", 2);
            }
            assertEquals(2, first.size(), "ticket-1 and ticket-2's first sessions committed");
            appendMessages("messages-b", phaseTwo);
            int expected = expectedWindows().size();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while ((committedDigests("digests-b", expected).size() < expected || FinishedDigests.read(out).size() < expected)
                    && System.nanoTime() < deadline) {
                assertTrue(!client.getJobStatus().get().isGloballyTerminalState(), "the job ended early");
            }
            assertTrue(FailAtFirstRevision.FAILED.get(), "the failure was injected");
            assertWindows(committedDigests("digests-b", expected), "digest topic after a restart");
            assertWindows(FinishedDigests.read(out), "Parquet files after a restart");
            assertTooLate("dead-b");
        } finally {
            client.cancel().get();
        }
    }
}
