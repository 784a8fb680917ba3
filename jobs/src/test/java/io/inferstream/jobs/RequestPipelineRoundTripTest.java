package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.sink.TaskDateBucketAssigner;
import io.inferstream.jobs.testing.ExactlyOnce;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.jobs.wire.JsonRecordCodec;
import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificData;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.io.LocalInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on real infrastructure: an in-process KRaft broker, a Flink MiniCluster and the real
 * inference operator on stories260K (answers of at most 4 tokens: this test is about transport). 1,000
 * valid requests (half Avro single-object, half JSON) and 20 malformed records go in; every valid
 * id must come out exactly once on the result topic (read_committed) and in the Parquet files, and
 * every malformed record must land in the dead-letter topic with a reason naming its problem.
 */
class RequestPipelineRoundTripTest {
    private static final int VALID = 1000;

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    @Timeout(180)
    void everyValidRequestComesOutExactlyOnceAndEveryMalformedOneIsDeadLettered(@TempDir Path out) throws Exception {
        long tStart = System.nanoTime();
        KAFKA.createTopics("requests", 2, "results", 2, "dead-letters");

        List<byte[]> valid = new ArrayList<>();
        Set<String> validIds = new HashSet<>();
        Map<String, Task> taskById = new HashMap<>();
        SingleObjectCodec<InferenceRequest> avro = SingleObjectCodec.of(InferenceRequest.class);
        JsonRecordCodec<InferenceRequest> json = JsonRecordCodec.of(InferenceRequest.class);
        for (int i = 0; i < VALID; i++) {
            String id = "req-" + i;
            Task task = SampleRequests.taskFor(i);
            InferenceRequest request = SampleRequests.valid(id, task).build();
            byte[] bytes;
            if (i % 2 == 0) {
                bytes = avro.encode(request);
            } else {
                // JSON as a person would write it: task in lower case
                String text = new String(json.encode(request), StandardCharsets.UTF_8)
                        .replace("\"task\":\"" + task.name() + "\"", "\"task\":\"" + task.name().toLowerCase(Locale.ROOT) + "\"");
                assertTrue(text.contains(task.name().toLowerCase(Locale.ROOT)));
                bytes = text.getBytes(StandardCharsets.UTF_8);
            }
            valid.add(bytes);
            validIds.add(id);
            taskById.put(id, task);
        }
        Map<String, String> malformed = MalformedRecords.all(avro, json); // base64 payload -> expected reason part
        assertEquals(20, malformed.size());

        List<String> bad = new ArrayList<>(malformed.keySet());
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < VALID; i++) {
            payloads.add(valid.get(i));
            if (i % 50 == 25) { // interleave the malformed records with the valid ones
                payloads.add(java.util.Base64.getDecoder().decode(bad.get(i / 50)));
            }
        }
        KAFKA.produce("requests", payloads);

        System.out.printf("topics created and records produced in %d ms%n", (System.nanoTime() - tStart) / 1_000_000);
        long t0 = System.nanoTime();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(500);
        InferenceOptions inference = new InferenceOptions(); // the real operator on stories260K, short answers
        inference.maxNewTokens = 4;
        inference.maxNewTokensCap = 4;
        String model = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        RequestPipeline.builder()
                .bootstrapServers(KAFKA.bootstrapServers())
                .requestTopics("requests")
                .resultTopic("results")
                .deadLetterTopic("dead-letters")
                .groupId("round-trip")
                .transactionalIdPrefix("round-trip")
                .parquetPath(out.toUri().toString())
                .bounded(true)
                .inference(inference.stage(model, "stories260K"))
                .build()
                .addTo(env);
        env.execute("round-trip");
        System.out.printf("round-trip job ran in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        long t1 = System.nanoTime();

        // Kafka results, read_committed: every valid id exactly once.
        SingleObjectCodec<InferenceResult> resultCodec = SingleObjectCodec.of(InferenceResult.class);
        List<InferenceResult> kafkaResults = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : KAFKA.read("results", VALID)) {
            InferenceResult result = resultCodec.decode(r.value());
            assertEquals(result.getId(), new String(r.key(), StandardCharsets.UTF_8), "record key is the request id");
            kafkaResults.add(result);
        }
        System.out.printf("results read in %d ms%n", (System.nanoTime() - t1) / 1_000_000);
        ExactlyOnce.assertEachIdOnce(validIds, kafkaResults, "result topic");
        for (InferenceResult result : kafkaResults) {
            assertEquals(taskById.get(result.getId()), result.getTask());
            assertEquals(result.getId(), result.getMetadata().get("id"), "metadata copied from the request");
            assertNull(result.getError(), result.getId());
            assertTrue(result.getPromptTokens() > 0, result.getId());
        }

        // Parquet: every valid id exactly once, each file in its task=…/date=… bucket.
        List<Path> files;
        try (Stream<Path> walk = Files.walk(out)) {
            files = walk.filter(Files::isRegularFile).collect(Collectors.toList());
        }
        assertFalse(files.isEmpty(), "no Parquet files under " + out);
        List<InferenceResult> parquetResults = new ArrayList<>();
        for (Path file : files) {
            // finished part files only: the end of the bounded input must commit the in-progress ones
            String fileName = file.getFileName().toString();
            assertTrue(fileName.startsWith("results-") && fileName.endsWith(".parquet"), "unfinished or stray file: " + file);
            String bucket = out.relativize(file.getParent()).toString().replace('\\', '/');
            try (ParquetReader<InferenceResult> reader = AvroParquetReader.<InferenceResult>builder(new LocalInputFile(file))
                    .withDataModel(SpecificData.getForClass(InferenceResult.class)).build()) {
                for (InferenceResult r = reader.read(); r != null; r = reader.read()) {
                    assertEquals(TaskDateBucketAssigner.bucketOf(r), bucket, "bucket of " + r.getId());
                    parquetResults.add(r);
                }
            }
        }
        ExactlyOnce.assertEachIdOnce(validIds, parquetResults, "Parquet files");
        Set<String> buckets = files.stream().map(f -> out.relativize(f.getParent()).toString()).collect(Collectors.toSet());
        assertEquals(Task.values().length, buckets.size(), "one bucket per task: " + buckets);

        // Dead letters: each malformed record once, with its bytes and a reason naming the problem.
        DeadLetterCheck.check(KAFKA.read("dead-letters", malformed.size()), malformed);
    }

    /** The 20 malformed records, each with the words its dead-letter reason must contain. */
    static final class MalformedRecords {
        static Map<String, String> all(SingleObjectCodec<InferenceRequest> avro, JsonRecordCodec<InferenceRequest> json) {
            Map<String, String> m = new java.util.LinkedHashMap<>();
            String okJson = new String(json.encode(SampleRequests.valid("bad-x", Task.SUMMARIZE).build()), StandardCharsets.UTF_8);
            byte[] okAvro = avro.encode(SampleRequests.valid("bad-avro", Task.SUMMARIZE).build());

            put(m, new byte[] {0x00, 0x01, 'g', 'a', 'r', 'b', 'a', 'g', 'e'}, "unrecognized wire format");
            put(m, new byte[0], "empty payload");
            put(m, "{\"id\": \"bad-1\", \"task\": ", "invalid JSON");
            put(m, okJson.replace("\"id\":\"bad-x\",", ""), "missing required field 'id'");
            put(m, okJson.replace("\"SUMMARIZE\"", "\"DANCE\""), "unknown Task 'DANCE'");
            put(m, json(Task.CLASSIFY, "bad-6", "\"labels\":[]"), "CLASSIFY needs at least one label");
            put(m, json(Task.TRANSLATE, "bad-7", "\"target_language\":null"), "TRANSLATE needs 'target_language'");
            put(m, okJson.replaceFirst("\"text\":\"[^\"]*\"", "\"text\":\"   \""), "empty text");
            put(m, json(Task.GENERATE, "bad-9", "\"sampling\":{\"temperature\":-0.5}"), "sampling.temperature must be >= 0");
            put(m, json(Task.GENERATE, "bad-10", "\"sampling\":{\"top_p\":1.5}"), "sampling.top_p must be in (0, 1]");
            byte[] badUtf8 = okJson.getBytes(StandardCharsets.UTF_8);
            int at = okJson.indexOf("quick");
            badUtf8[at] = (byte) 0xC3; // a lead byte followed by ASCII: malformed
            put(m, badUtf8, "not valid UTF-8");
            put(m, Arrays.copyOf(okAvro, okAvro.length / 2), "Avro body is not a valid InferenceRequest");
            byte[] unknownFingerprint = okAvro.clone();
            unknownFingerprint[5] ^= 0x5A;
            put(m, unknownFingerprint, "unknown schema fingerprint");
            byte[] trailing = Arrays.copyOf(okAvro, okAvro.length + 3);
            put(m, trailing, "3 more bytes");
            byte[] avroBadUtf8 = okAvro.clone();
            int q = indexOf(avroBadUtf8, "quick".getBytes(StandardCharsets.UTF_8));
            avroBadUtf8[q] = (byte) 0xFF; // never valid in UTF-8
            put(m, avroBadUtf8, "not valid UTF-8");
            put(m, okJson.replace("\"id\":\"bad-x\"", "\"id\":17"), "field 'id': expected string");
            put(m, json(Task.GENERATE, "bad-17", "\"sampling\":{\"num_beams\":0}"), "sampling.num_beams must be >= 1");
            put(m, okJson.replaceFirst("\"text\":\"[^\"]*\"", "\"text\":\"" + "x".repeat(256 * 1024 + 1) + "\""),
                    "text too large: 262145 UTF-8 bytes, limit 262144");
            put(m, avro.encode(SampleRequests.valid("", Task.GENERATE).build()), "missing id");
            put(m, okJson.replace("\"id\":\"bad-x\"", "\"id\":\"bad-20\",\"id\":\"again\""), "Duplicate field 'id'");
            return m;
        }

        private static String json(Task task, String id, String override) {
            String base = "{\"id\":\"" + id + "\",\"task\":\"" + task + "\",\"text\":\"some text\","
                    + "\"created_at\":\"2026-11-28T10:00:00Z\"";
            return base + "," + override + "}";
        }

        private static void put(Map<String, String> m, String payload, String reason) {
            put(m, payload.getBytes(StandardCharsets.UTF_8), reason);
        }

        private static void put(Map<String, String> m, byte[] payload, String reason) {
            String key = java.util.Base64.getEncoder().encodeToString(payload);
            if (m.put(key, reason) != null) {
                throw new IllegalStateException("duplicate malformed payload for " + reason);
            }
        }

        private static int indexOf(byte[] haystack, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= haystack.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (haystack[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            throw new IllegalArgumentException("needle not found");
        }
    }

    /** Each dead letter matches one malformed record: same bytes, Kafka origin, reason with the expected words. */
    static final class DeadLetterCheck {
        static void check(List<ConsumerRecord<byte[], byte[]>> records, Map<String, String> expected)
                throws MalformedRecordException {
            SingleObjectCodec<DeadLetter> codec = SingleObjectCodec.of(DeadLetter.class);
            Map<String, String> remaining = new HashMap<>(expected);
            for (ConsumerRecord<byte[], byte[]> r : records) {
                DeadLetter letter = codec.decode(r.value());
                ByteBuffer buf = letter.getPayload();
                byte[] payload = new byte[buf.remaining()];
                buf.get(payload);
                String key = java.util.Base64.getEncoder().encodeToString(payload);
                String reasonPart = remaining.remove(key);
                assertNotNull(reasonPart, "dead letter for an unexpected or repeated payload, reason: " + letter.getReason());
                assertTrue(letter.getReason().contains(reasonPart),
                        "reason '" + letter.getReason() + "' should contain '" + reasonPart + "'");
                assertEquals("requests", letter.getSourceTopic());
                assertNotNull(letter.getSourcePartition());
                assertNotNull(letter.getSourceOffset());
            }
            assertTrue(remaining.isEmpty(), "malformed records with no dead letter: " + remaining.values());
        }
    }
}
