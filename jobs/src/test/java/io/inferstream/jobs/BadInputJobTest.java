package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.decode.DeadLetters;
import io.inferstream.jobs.testing.ExactlyOnce;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.jobs.wire.JsonRecordCodec;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Ten kinds of bad records among good ones, through the real job: the job keeps running, each bad record
 * lands in the dead-letter topic with a reason that names its problem, every good request gets its result,
 * and prompts that pass the decoder but exceed the model's context get ERROR results saying so.
 */
class BadInputJobTest {
    private static final int GOOD = 40;

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    /** The bad records, each with the words its dead-letter reason must contain. */
    static Map<byte[], String> badRecords() {
        SingleObjectCodec<InferenceRequest> avro = SingleObjectCodec.of(InferenceRequest.class);
        byte[] okAvro = avro.encode(SampleRequests.valid("bad-avro", Task.SUMMARIZE).build());
        Map<byte[], String> m = new LinkedHashMap<>();
        m.put(Arrays.copyOf(okAvro, okAvro.length / 2), "Avro body is not a valid InferenceRequest");
        byte[] fingerprint = okAvro.clone();
        fingerprint[5] ^= 0x5A;
        m.put(fingerprint, "unknown schema fingerprint");
        m.put(utf8("{\"id\": \"bad-json\", \"task\": \"GENERATE\", \"text\": "), "invalid JSON");
        byte[] notUtf8 = json("bad-utf8", "GENERATE", "\"text\":\"quick brown fox\"");
        notUtf8[new String(notUtf8, StandardCharsets.ISO_8859_1).indexOf("quick")] = (byte) 0xC3;
        m.put(notUtf8, "not valid UTF-8");
        m.put(utf8("{\"task\":\"GENERATE\",\"text\":\"no id here\",\"created_at\":\"2026-11-28T10:00:00Z\"}"),
                "missing required field 'id'");
        m.put(json("bad-task", "DANCE", "\"text\":\"some text\""), "unknown Task 'DANCE'");
        m.put(json("bad-empty", "SUMMARIZE", "\"text\":\"\""), "empty text");
        m.put(json("bad-huge", "SUMMARIZE", "\"text\":\"" + "a".repeat(1_000_000) + "\""),
                "text too large: 1000000 UTF-8 bytes");
        m.put(json("bad-sampling", "GENERATE", "\"text\":\"some text\",\"sampling\":{\"temperature\":-1,\"top_p\":2.5}"),
                "sampling.temperature must be >= 0");
        m.put(json("bad-labels", "CLASSIFY", "\"text\":\"some text\",\"labels\":[]"), "CLASSIFY needs at least one label");
        return m;
    }

    private static byte[] json(String id, String task, String fields) {
        return utf8("{\"id\":\"" + id + "\",\"task\":\"" + task + "\"," + fields + ",\"created_at\":\"2026-11-28T10:00:00Z\"}");
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(150)
    void badRecordsAreDeadLetteredWithTheirReasonAndGoodOnesAllGetResults(@TempDir Path out) throws Exception {
        KAFKA.createTopics("prompts", 1, "results", 1, "dead-letters");
        Map<byte[], String> bad = badRecords();
        assertEquals(10, bad.size());
        JsonRecordCodec<InferenceRequest> json = JsonRecordCodec.of(InferenceRequest.class);
        // Texts far beyond stories260K's 2048-token context but well under the decoder's 256 KiB limit.
        String longText = "The little dog ran to the park and played with a red ball. ".repeat(400);
        List<String> overlong = List.of("long-generate", "long-classify");
        Set<String> good = new HashSet<>();
        List<byte[]> payloads = new ArrayList<>();
        List<byte[]> badPayloads = new ArrayList<>(bad.keySet());
        for (int i = 0; i < GOOD; i++) {
            InferenceRequest r = SampleRequests.valid("good-" + i, SampleRequests.taskFor(i)).build();
            good.add(r.getId());
            payloads.add(json.encode(r));
            if (i % 4 == 1) {
                payloads.add(badPayloads.get(i / 4));
            }
        }
        payloads.add(json.encode(SampleRequests.valid(overlong.get(0), Task.GENERATE).setText(longText).build()));
        payloads.add(json.encode(SampleRequests.valid(overlong.get(1), Task.CLASSIFY).setText(longText).build()));
        KAFKA.produce("prompts", payloads);

        Path model = SharedModels.require("stories260K/stories260K.gguf");
        StreamingInferenceJob job = new StreamingInferenceJob();
        new CommandLine(job).parseArgs("--bootstrap-servers", KAFKA.bootstrapServers(), "--group-id", "bad-input",
                "--output", "none", "--model", model.toString(), "--bounded", "--max-new-tokens", "8",
                "--checkpoint-interval", "1s");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.inference.configure(env);
        job.pipeline(model.toAbsolutePath().toString()).addTo(env);
        env.execute("bad-input-test"); // restart strategy none: any exception fails the test here

        // Dead letters: each bad record once, its bytes kept (cut to the cap for the 1 MB one), a reason naming the problem.
        List<DeadLetter> deadLetters = KAFKA.read("dead-letters", bad.size(), DeadLetter.class);
        assertEquals(bad.size(), deadLetters.size(), "one dead letter per bad record");
        List<byte[]> unmatched = new ArrayList<>(bad.keySet());
        for (DeadLetter letter : deadLetters) {
            ByteBuffer buf = letter.getPayload();
            byte[] payload = new byte[buf.remaining()];
            buf.get(payload);
            byte[] original = unmatched.stream()
                    .filter(p -> Arrays.equals(p.length > DeadLetters.MAX_PAYLOAD
                            ? Arrays.copyOf(p, DeadLetters.MAX_PAYLOAD) : p, payload))
                    .findFirst().orElse(null);
            assertNotNull(original, "dead letter for an unexpected payload, reason: " + letter.getReason());
            unmatched.remove(original);
            String expected = bad.get(original);
            assertTrue(letter.getReason().contains(expected), "reason '" + abbreviate(letter.getReason()) + "' should say '" + expected + "'");
            assertEquals("prompts", letter.getSourceTopic());
            assertNotNull(letter.getSourceOffset());
        }
        assertTrue(unmatched.isEmpty(), unmatched.size() + " bad records have no dead letter");

        // Results: every good request and the two over-long ones, exactly once.
        List<InferenceResult> results = KAFKA.read("results", GOOD + overlong.size(), InferenceResult.class);
        Set<String> expectedIds = new HashSet<>(good);
        expectedIds.addAll(overlong);
        ExactlyOnce.assertEachIdOnce(expectedIds, results, "result topic");
        for (InferenceResult r : results) {
            if (overlong.contains(r.getId())) {
                assertEquals(FinishReason.ERROR, r.getFinishReason(), r.getId());
                assertTrue(r.getError().contains("context"), r.getId() + " error names the context: " + r.getError());
            } else {
                assertNull(r.getError(), r.getId());
                assertTrue(r.getFinishReason() == FinishReason.STOP || r.getFinishReason() == FinishReason.LENGTH, r.getId());
            }
        }
    }

    @Test
    @Timeout(120)
    void requestsThatExceedTheTimeoutGetDeadlineResultsAndTheJobGoesOn() throws Exception {
        KAFKA.createTopics("slow-prompts", 1, "slow-results", 1, "slow-dead-letters");
        JsonRecordCodec<InferenceRequest> json = JsonRecordCodec.of(InferenceRequest.class);
        Set<String> ids = new HashSet<>();
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            // 400 tokens at a few ms per step cannot finish in 50 ms
            InferenceRequest r = SampleRequests.valid("slow-" + i, Task.GENERATE).setMaxNewTokens(400).build();
            ids.add(r.getId());
            payloads.add(json.encode(r));
        }
        KAFKA.produce("slow-prompts", payloads);
        Path model = SharedModels.require("stories260K/stories260K.gguf");
        StreamingInferenceJob job = new StreamingInferenceJob();
        new CommandLine(job).parseArgs("--bootstrap-servers", KAFKA.bootstrapServers(), "--group-id", "slow",
                "--requests-topic", "slow-prompts", "--results-topic", "slow-results", "--dead-letter-topic",
                "slow-dead-letters", "--transactional-id-prefix", "slow", "--output", "none", "--model", model.toString(),
                "--bounded", "--request-timeout", "50ms", "--checkpoint-interval", "1s");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.inference.configure(env);
        job.pipeline(model.toAbsolutePath().toString()).addTo(env);
        env.execute("timeout-test");

        List<InferenceResult> results = KAFKA.read("slow-results", ids.size(), InferenceResult.class);
        ExactlyOnce.assertEachIdOnce(ids, results, "result topic");
        for (InferenceResult r : results) {
            assertEquals(FinishReason.DEADLINE, r.getFinishReason(), r.getId());
            assertEquals("timed out after 50 ms (request timeout)", r.getError(), r.getId());
            assertNull(r.getOutput(), r.getId());
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }
}
