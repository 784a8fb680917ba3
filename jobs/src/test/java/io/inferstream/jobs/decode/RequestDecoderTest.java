package io.inferstream.jobs.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.jobs.wire.JsonRecordCodec;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.SamplingOptions;
import io.inferstream.schema.Task;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class RequestDecoderTest {
    private static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");
    private static final RecordOrigin ORIGIN = RecordOrigin.kafka("prompts", 2, 41L);

    private final RequestDecoder decoder = new RequestDecoder(new RequestValidator(), Clock.fixed(NOW, ZoneOffset.UTC));
    private final SingleObjectCodec<InferenceRequest> avro = SingleObjectCodec.of(InferenceRequest.class);
    private final JsonRecordCodec<InferenceRequest> json = JsonRecordCodec.of(InferenceRequest.class);

    @ParameterizedTest
    @EnumSource(Task.class)
    void validRequestsAreAcceptedInBothFormats(Task task) {
        InferenceRequest request = SampleRequests.valid("ok-" + task, task).build();
        for (byte[] bytes : List.of(avro.encode(request), json.encode(request))) {
            DecodeOutcome outcome = decoder.decode(bytes, ORIGIN);
            assertEquals(request, assertInstanceOf(DecodeOutcome.Accepted.class, outcome).request());
        }
    }

    @Test
    void deadLetterKeepsTheBytesTheOriginTheTimeAndTheId() {
        InferenceRequest bad = SampleRequests.valid("bad-1", Task.CLASSIFY).setLabels(List.of()).build();
        byte[] bytes = avro.encode(bad);
        DeadLetter letter = rejected(bytes);
        assertArrayEquals(bytes, letter.getPayload().array());
        assertEquals("prompts", letter.getSourceTopic());
        assertEquals(2, letter.getSourcePartition());
        assertEquals(41L, letter.getSourceOffset());
        assertNull(letter.getSourceFile());
        assertEquals(NOW, letter.getFailedAt());
        assertEquals("bad-1", letter.getRequestId());
    }

    @Test
    void fileOriginIsRecorded() {
        DeadLetter letter = assertInstanceOf(DecodeOutcome.Rejected.class,
                decoder.decode(new byte[] {1, 2, 3}, RecordOrigin.file("/lake/day=1/part-0.parquet"))).deadLetter();
        assertEquals("/lake/day=1/part-0.parquet", letter.getSourceFile());
        assertNull(letter.getSourceTopic());
    }

    @Test
    void unknownTaskIsRejected() {
        assertReason(jsonWith("\"task\":\"dance\""), "unknown Task 'dance'");
    }

    @Test
    void missingIdIsRejected() {
        assertReason(jsonWithout("id"), "missing required field 'id'");
        assertReason(avro.encode(SampleRequests.valid("  ", Task.GENERATE).build()), "missing id");
    }

    @Test
    void emptyOrBlankTextIsRejected() {
        assertReason(avro.encode(SampleRequests.valid("e", Task.SUMMARIZE).setText("").build()), "empty text");
        assertReason(jsonWith("\"text\":\" \\n\\t \""), "empty text");
        assertReason(jsonWithout("text"), "missing required field 'text'");
    }

    @Test
    void classifyWithoutLabelsIsRejected() {
        assertReason(avro.encode(SampleRequests.valid("c", Task.CLASSIFY).setLabels(List.of()).build()),
                "CLASSIFY needs at least one label");
        assertReason(avro.encode(SampleRequests.valid("c", Task.CLASSIFY).setLabels(List.of("a", "a")).build()),
                "labels contain duplicates");
    }

    @Test
    void translateWithoutTargetLanguageIsRejected() {
        assertReason(avro.encode(SampleRequests.valid("t", Task.TRANSLATE).setTargetLanguage(null).build()),
                "TRANSLATE needs 'target_language'");
        assertReason(avro.encode(SampleRequests.valid("t", Task.TRANSLATE).setTargetLanguage(" ").build()),
                "TRANSLATE needs 'target_language'");
    }

    static Stream<Arguments> samplingOutOfRange() {
        return Stream.of(
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setTemperature(-0.01), "sampling.temperature must be >= 0, got -0.01"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setTemperature(Double.NaN), "sampling.temperature must be >= 0, got NaN"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setTopP(0.0), "sampling.top_p must be in (0, 1], got 0.0"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setTopP(1.0001), "sampling.top_p must be in (0, 1], got 1.0001"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setTopK(-1), "sampling.top_k must be >= 0, got -1"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setMinP(-0.1), "sampling.min_p must be in [0, 1], got -0.1"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setMinP(1.5), "sampling.min_p must be in [0, 1], got 1.5"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setRepetitionPenalty(0.0), "sampling.repetition_penalty must be > 0, got 0.0"),
                Arguments.of((Consumer<SamplingOptions.Builder>) b -> b.setNumBeams(0), "sampling.num_beams must be >= 1, got 0"));
    }

    @ParameterizedTest
    @MethodSource
    void samplingOutOfRange(Consumer<SamplingOptions.Builder> breakIt, String reason) {
        SamplingOptions.Builder sampling = SamplingOptions.newBuilder(SampleRequests.valid("s", Task.GENERATE).build().getSampling());
        breakIt.accept(sampling);
        assertReason(avro.encode(SampleRequests.valid("s", Task.GENERATE).setSampling(sampling.build()).build()), reason);
    }

    @Test
    void samplingBoundariesAreAccepted() {
        SamplingOptions edge = SamplingOptions.newBuilder().setTemperature(0.0).setTopP(1.0).setTopK(0).setMinP(0.0)
                .setRepetitionPenalty(1e-6).setNumBeams(1).build();
        assertInstanceOf(DecodeOutcome.Accepted.class,
                decoder.decode(avro.encode(SampleRequests.valid("s", Task.GENERATE).setSampling(edge).build()), ORIGIN));
        edge = SamplingOptions.newBuilder().setMinP(1.0).build();
        assertInstanceOf(DecodeOutcome.Accepted.class,
                decoder.decode(avro.encode(SampleRequests.valid("s", Task.GENERATE).setSampling(edge).build()), ORIGIN));
    }

    @Test
    void textOverTheByteLimitIsRejectedCountingUtf8Bytes() {
        RequestDecoder small = new RequestDecoder(new RequestValidator(12), Clock.fixed(NOW, ZoneOffset.UTC));
        // "ü" is 2 UTF-8 bytes: 6 of them are exactly 12 bytes (6 chars)
        InferenceRequest atLimit = SampleRequests.valid("l", Task.GENERATE).setText("üüüüüü").build();
        assertInstanceOf(DecodeOutcome.Accepted.class, small.decode(avro.encode(atLimit), ORIGIN));
        InferenceRequest over = SampleRequests.valid("l", Task.GENERATE).setText("üüüüüüx").build();
        DecodeOutcome outcome = small.decode(json.encode(over), ORIGIN);
        assertTrue(assertInstanceOf(DecodeOutcome.Rejected.class, outcome).deadLetter().getReason()
                .contains("text too large: 13 UTF-8 bytes, limit 12"));
    }

    @Test
    void defaultTextLimitIs256KiB() {
        assertEquals(256 * 1024, new RequestValidator().maxTextBytes());
        String atLimit = "a".repeat(256 * 1024);
        assertInstanceOf(DecodeOutcome.Accepted.class,
                decoder.decode(avro.encode(SampleRequests.valid("big", Task.SUMMARIZE).setText(atLimit).build()), ORIGIN));
        assertReason(avro.encode(SampleRequests.valid("big", Task.SUMMARIZE).setText(atLimit + "a").build()),
                "text too large: 262145 UTF-8 bytes");
    }

    @Test
    void nonUtf8BytesAreRejectedInBothFormats() {
        byte[] jsonBytes = json.encode(SampleRequests.valid("u", Task.GENERATE).setText("Zürich").build());
        String asText = new String(jsonBytes, StandardCharsets.UTF_8);
        int at = asText.getBytes(StandardCharsets.UTF_8).length - asText.substring(asText.indexOf("Zürich") + 1).getBytes(StandardCharsets.UTF_8).length;
        jsonBytes[at] = (byte) 0xFC; // 'ü' lead byte C3 replaced by a byte that never occurs in UTF-8
        assertReason(jsonBytes, "payload is not valid UTF-8: malformed byte sequence at byte " + at);

        byte[] avroBytes = avro.encode(SampleRequests.valid("u", Task.GENERATE).setText("Zürich").build());
        for (int i = 10; i < avroBytes.length - 1; i++) {
            if (avroBytes[i] == (byte) 0xC3 && avroBytes[i + 1] == (byte) 0xBC) { // 'ü'
                avroBytes[i + 1] = 'x';
                break;
            }
        }
        assertReason(avroBytes, "not valid UTF-8");
    }

    @Test
    void everyProblemOfARequestIsListed() {
        InferenceRequest bad = SampleRequests.valid("m", Task.CLASSIFY).setLabels(List.of()).setText(" ")
                .setMaxNewTokens(0).build();
        String reason = rejected(avro.encode(bad)).getReason();
        assertTrue(reason.startsWith("invalid request: "), reason);
        for (String part : List.of("empty text", "CLASSIFY needs at least one label", "max_new_tokens must be >= 1")) {
            assertTrue(reason.contains(part), reason);
        }
    }

    @Test
    void garbageNeverThrows() {
        java.util.Random random = new java.util.Random(7);
        byte[] valid = avro.encode(SampleRequests.valid("g", Task.GENERATE).build());
        for (int i = 0; i < 2000; i++) {
            byte[] bytes = valid.clone();
            for (int flips = 1 + random.nextInt(4); flips > 0; flips--) {
                bytes[10 + random.nextInt(bytes.length - 10)] = (byte) random.nextInt(256);
            }
            DecodeOutcome outcome = decoder.decode(bytes, ORIGIN); // must return, accepted or rejected
            if (outcome instanceof DecodeOutcome.Rejected) {
                assertTrue(!((DecodeOutcome.Rejected) outcome).deadLetter().getReason().isBlank());
            }
        }
    }

    private DeadLetter rejected(byte[] bytes) {
        return assertInstanceOf(DecodeOutcome.Rejected.class, decoder.decode(bytes, ORIGIN)).deadLetter();
    }

    private void assertReason(byte[] bytes, String expected) {
        String reason = rejected(bytes).getReason();
        assertTrue(reason.contains(expected), "'" + reason + "' should contain '" + expected + "'");
    }

    private void assertReason(String json, String expected) {
        assertReason(json.getBytes(StandardCharsets.UTF_8), expected);
    }

    private static String jsonWith(String override) {
        String key = override.substring(0, override.indexOf(':'));
        String base = "{\"id\":\"j\",\"task\":\"GENERATE\",\"text\":\"some text\",\"created_at\":0}";
        return base.replaceFirst(java.util.regex.Pattern.quote(key) + ":(\"[^\"]*\"|\\d+)",
                java.util.regex.Matcher.quoteReplacement(override));
    }

    private static String jsonWithout(String field) {
        String base = "{\"id\":\"j\",\"task\":\"GENERATE\",\"text\":\"some text\",\"created_at\":0}";
        return base.replaceFirst("\"" + field + "\":\"[^\"]*\",", "");
    }
}
