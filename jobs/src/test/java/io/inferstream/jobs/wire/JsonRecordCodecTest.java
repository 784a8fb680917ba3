package io.inferstream.jobs.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.Task;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

class JsonRecordCodecTest {
    private final JsonRecordCodec<InferenceRequest> codec = JsonRecordCodec.of(InferenceRequest.class);

    private InferenceRequest decode(String json) throws MalformedRecordException {
        return codec.decode(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void handWrittenJsonReadsIntoTheRequestItSays() throws Exception {
        InferenceRequest r = decode("{\"id\": \"r1\", \"task\": \"classify\", \"text\": \"I loved it\","
                + " \"labels\": [\"positive\", \"negative\"], \"max_new_tokens\": 8,"
                + " \"sampling\": {\"temperature\": 0, \"top_p\": 0.5, \"seed\": 7},"
                + " \"metadata\": {\"user\": \"u\"}, \"created_at\": \"2026-01-31T12:00:00Z\"}");
        assertEquals("r1", r.getId());
        assertEquals(Task.CLASSIFY, r.getTask());
        assertEquals("I loved it", r.getText());
        assertEquals(List.of("positive", "negative"), r.getLabels());
        assertEquals(8, r.getMaxNewTokens());
        assertEquals(0.0, r.getSampling().getTemperature());
        assertEquals(0.5, r.getSampling().getTopP());
        assertEquals(7L, r.getSampling().getSeed());
        assertNull(r.getSampling().getTopK());
        assertEquals(Map.of("user", "u"), r.getMetadata());
        assertEquals(Instant.parse("2026-01-31T12:00:00Z"), r.getCreatedAt());
        assertNull(r.getTargetLanguage());
        assertNull(r.getModel());
    }

    @Test
    void taskIsCaseInsensitive() throws Exception {
        for (String spelled : List.of("translate", "TRANSLATE", "Translate", " tRaNsLaTe ")) {
            assertEquals(Task.TRANSLATE, decode("{\"id\":\"a\",\"task\":\"" + spelled + "\",\"text\":\"t\","
                    + "\"created_at\":0}").getTask(), spelled);
        }
    }

    @Test
    void missingOptionalFieldsTakeSchemaDefaults() throws Exception {
        InferenceRequest r = decode("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":1234}");
        assertEquals(List.of(), r.getLabels());
        assertEquals(Map.of(), r.getMetadata());
        assertNull(r.getSampling());
        assertNull(r.getMaxNewTokens());
        assertEquals(Instant.ofEpochMilli(1234), r.getCreatedAt());
    }

    @Test
    void encodeThenDecodeGivesTheSameRequest() throws Exception {
        for (Task task : Task.values()) {
            InferenceRequest request = SampleRequests.valid("id-" + task, task).build();
            assertEquals(request, codec.decode(codec.encode(request)), task.name());
        }
    }

    @Test
    void writtenKeysAreExactlyTheSchemaFieldNames() throws Exception {
        JsonNode tree = new ObjectMapper().readTree(codec.encode(SampleRequests.valid("x", Task.GENERATE).build()));
        List<String> keys = new ArrayList<>();
        tree.fieldNames().forEachRemaining(keys::add);
        List<String> schemaNames = new ArrayList<>();
        for (Schema.Field f : InferenceRequest.getClassSchema().getFields()) {
            schemaNames.add(f.name());
        }
        assertEquals(schemaNames, keys);
        assertEquals(SampleRequests.CREATED_AT.toEpochMilli(), tree.get("created_at").longValue());
        assertEquals(0.9, tree.get("sampling").get("top_p").doubleValue());
    }

    @Test
    void unknownKeysAreIgnoredForForwardCompatibility() throws Exception {
        InferenceRequest r = decode("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":0,"
                + "\"priority\":5}");
        assertEquals("a", r.getId());
    }

    @Test
    void errorsNameTheFieldAndTheExpectedType() {
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":null,\"created_at\":0}", "field 'text' must not be null");
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\"}", "missing required field 'created_at'");
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":\"yesterday\"}",
                "field 'created_at': 'yesterday' is not an ISO-8601 instant");
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":0,\"max_new_tokens\":1.5}",
                "field 'max_new_tokens': expected int");
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":0,\"labels\":[\"x\",3]}",
                "field 'labels[1]': expected string");
        assertMessage("{\"id\":\"a\",\"task\":\"GENERATE\",\"text\":\"t\",\"created_at\":0,\"sampling\":{\"top_k\":\"many\"}}",
                "field 'sampling.top_k': expected int");
        assertMessage("{\"id\":\"a\"} trailing", "invalid JSON");
    }

    private void assertMessage(String json, String expected) {
        MalformedRecordException e = assertThrows(MalformedRecordException.class, () -> decode(json));
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should contain '" + expected + "'");
    }
}
