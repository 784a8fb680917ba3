package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;

/** Checks every sample-data JSONL file against the shape and the properties sample-data/README.md claims. */
class SampleDataTest {

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private static final Set<String> REQUEST_FIELDS = Set.of("id", "task", "text", "labels", "source_language",
            "target_language", "instruction", "max_new_tokens", "metadata", "created_at");
    private static final Set<String> CHAT_FIELDS = Set.of("id", "conversation_id", "author", "text", "event_time", "metadata");
    private static final List<String> SENTIMENT = List.of("positive", "negative", "neutral");
    private static final List<String> TOPICS = List.of("billing", "shipping", "technical", "account");
    private static final Set<String> LANGUAGES = Set.of("en", "zh", "fr", "de");

    /** 2026-01-15T09:00:00Z and the end of that hour, epoch ms. */
    private static final long HOUR_START = Instant.parse("2026-01-15T09:00:00Z").toEpochMilli();
    private static final long HOUR_END = Instant.parse("2026-01-15T10:00:00Z").toEpochMilli();

    private static Path sampleData(String relative) {
        Path file = SharedModels.repositoryRoot().resolve("sample-data").resolve(relative);
        assertTrue(Files.isRegularFile(file), "sample data file " + file + " exists");
        return file;
    }

    private static List<JsonNode> readLines(Path file) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        int lineNumber = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNumber++;
            assertFalse(line.isBlank(), file + ":" + lineNumber + " is blank");
            JsonNode node = JSON.readTree(line);
            assertTrue(node.isObject(), file + ":" + lineNumber + " is a JSON object");
            rows.add(node);
        }
        return rows;
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new TreeSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The request fields every requests/eval line carries, with the types of the InferenceRequest schema. */
    private static void checkRequestShape(JsonNode r, String where, Set<String> ids, String idPattern) {
        String id = r.get("id").asText();
        assertTrue(id.matches(idPattern), where + ": id " + id + " matches " + idPattern);
        assertTrue(ids.add(id), where + ": id " + id + " is unique");
        String task = r.get("task").asText();
        assertTrue(EvalDataset.TASKS.contains(task), where + ": known upper-case task " + task);
        assertTrue(r.get("text").isTextual() && !r.get("text").asText().isBlank(), where + ": text");
        assertTrue(r.get("labels").isArray(), where + ": labels is an array");
        JsonNode max = r.get("max_new_tokens");
        assertTrue(max.isNull() || (max.isInt() && max.intValue() >= 24 && max.intValue() <= 64),
                where + ": max_new_tokens null or in [24, 64], got " + max);
        JsonNode instruction = r.get("instruction");
        assertTrue(instruction.isNull() || (instruction.isTextual() && !instruction.asText().isBlank()), where + ": instruction");
        assertTrue(r.get("metadata").isObject(), where + ": metadata is an object");
        for (Iterator<JsonNode> it = r.get("metadata").elements(); it.hasNext(); ) {
            assertTrue(it.next().isTextual(), where + ": metadata values are strings");
        }
        assertTrue(r.get("created_at").isIntegralNumber(), where + ": created_at is epoch millis");
        long created = r.get("created_at").longValue();
        assertTrue(created >= HOUR_START && created < HOUR_END, where + ": created_at in 2026-01-15 09:xx UTC");

        List<String> labels = new ArrayList<>();
        r.get("labels").forEach(l -> labels.add(l.asText()));
        if (task.equals("CLASSIFY")) {
            assertTrue(labels.equals(SENTIMENT) || labels.equals(TOPICS), where + ": labels are a documented label set, got " + labels);
        } else {
            assertTrue(labels.isEmpty(), where + ": only CLASSIFY has labels");
        }
        JsonNode source = r.get("source_language");
        JsonNode target = r.get("target_language");
        if (task.equals("TRANSLATE")) {
            assertTrue(LANGUAGES.contains(source.asText()) && LANGUAGES.contains(target.asText()),
                    where + ": ISO 639-1 languages, got " + source + " -> " + target);
            assertFalse(source.asText().equals(target.asText()), where + ": source and target languages differ");
        } else {
            assertTrue(source.isNull() && target.isNull(), where + ": only TRANSLATE has languages");
        }
    }

    private static Map<String, Integer> countBy(List<JsonNode> rows, java.util.function.Function<JsonNode, String> key) {
        return rows.stream().collect(Collectors.toMap(key, r -> 1, Integer::sum, TreeMap::new));
    }

    @Test
    void requestsAreValidInferenceRequestsOfAllFourTasks() throws IOException {
        Path file = sampleData("requests.jsonl");
        List<JsonNode> rows = readLines(file);
        Set<String> ids = new HashSet<>();
        long previousCreated = Long.MIN_VALUE;
        for (int i = 0; i < rows.size(); i++) {
            JsonNode r = rows.get(i);
            String where = file + ":" + (i + 1);
            assertEquals(REQUEST_FIELDS, fieldNames(r), where + ": field names");
            checkRequestShape(r, where, ids, "req-\\d{4}");
            assertTrue(r.get("created_at").longValue() >= previousCreated, where + ": created_at does not decrease");
            previousCreated = r.get("created_at").longValue();
        }
        // Counts stated in sample-data/README.md.
        assertEquals(120, rows.size());
        assertEquals(Map.of("CLASSIFY", 36, "GENERATE", 24, "SUMMARIZE", 30, "TRANSLATE", 30), countBy(rows, r -> r.get("task").asText()));
        assertEquals(Map.of("en-de", 6, "en-fr", 6, "en-zh", 10, "zh-en", 8),
                countBy(rows.stream().filter(r -> r.get("task").asText().equals("TRANSLATE")).toList(),
                        r -> r.get("source_language").asText() + "-" + r.get("target_language").asText()));
        assertEquals(Map.of("sentiment", 18, "support-topic", 18),
                countBy(rows.stream().filter(r -> r.get("task").asText().equals("CLASSIFY")).toList(),
                        r -> r.get("metadata").get("label_set").asText()));
    }

    @Test
    void classificationSetHasExpectedLabelsAmongItsLabels() throws IOException {
        Path file = sampleData("eval/classification.jsonl");
        List<JsonNode> rows = checkEvalFile(file, "cls-\\d{4}", "expected_label");
        assertEquals(60, rows.size());
        List<EvalExample> examples = EvalDataset.read(file);
        Map<String, Integer> perLabel = new TreeMap<>();
        for (EvalExample e : examples) {
            assertEquals("CLASSIFY", e.task());
            assertTrue(e.labels().contains(e.expectedLabel()), e.id() + ": expected_label in labels");
            perLabel.merge(e.expectedLabel(), 1, Integer::sum);
        }
        assertEquals(Map.of("positive", 10, "negative", 10, "neutral", 10,
                "billing", 8, "shipping", 8, "technical", 7, "account", 7), perLabel);
    }

    @Test
    void summarizationSetHasOneSentenceReferences() throws IOException {
        Path file = sampleData("eval/summarization.jsonl");
        List<JsonNode> rows = checkEvalFile(file, "sum-\\d{4}", "reference");
        assertEquals(30, rows.size());
        for (EvalExample e : EvalDataset.read(file)) {
            assertEquals("SUMMARIZE", e.task());
            String ref = e.reference();
            assertTrue(ref.endsWith("."), e.id() + ": reference is a sentence ending in a full stop");
            assertFalse(ref.substring(0, ref.length() - 1).matches(".*[.!?](\\s|$).*"), e.id() + ": reference is one sentence: " + ref);
            assertTrue(RougeTokenizer.standard().tokenize(ref).size() < RougeTokenizer.standard().tokenize(e.text()).size(),
                    e.id() + ": the reference is shorter than the text");
        }
    }

    @Test
    void translationSetPairsReferencesInTheTargetLanguage() throws IOException {
        Path file = sampleData("eval/translation.jsonl");
        List<JsonNode> rows = checkEvalFile(file, "tr-\\d{4}", "reference");
        assertEquals(40, rows.size());
        Map<String, Integer> pairs = new TreeMap<>();
        for (EvalExample e : EvalDataset.read(file)) {
            assertEquals("TRANSLATE", e.task());
            pairs.merge(e.sourceLanguage() + "-" + e.targetLanguage(), 1, Integer::sum);
            assertEquals(e.sourceLanguage().equals("zh"), hasHan(e.text()), e.id() + ": source text script matches " + e.sourceLanguage());
            assertEquals(e.targetLanguage().equals("zh"), hasHan(e.reference()), e.id() + ": reference script matches " + e.targetLanguage());
        }
        assertEquals(Map.of("en-zh", 15, "zh-en", 15, "en-fr", 10), pairs);
    }

    private static boolean hasHan(String text) {
        return text.codePoints().anyMatch(cp -> Character.UnicodeScript.of(cp) == Character.UnicodeScript.HAN);
    }

    private static List<JsonNode> checkEvalFile(Path file, String idPattern, String extraField) throws IOException {
        List<JsonNode> rows = readLines(file);
        Set<String> ids = new HashSet<>();
        Set<String> expectedFields = new TreeSet<>(REQUEST_FIELDS);
        expectedFields.add(extraField);
        for (int i = 0; i < rows.size(); i++) {
            String where = file + ":" + (i + 1);
            assertEquals(expectedFields, fieldNames(rows.get(i)), where + ": field names");
            checkRequestShape(rows.get(i), where, ids, idPattern);
        }
        return rows;
    }

    /** The out-of-order and late messages and the session gaps listed in sample-data/README.md. */
    private static final Set<String> OUT_OF_ORDER = Set.of("msg-0012", "msg-0028", "msg-0046", "msg-0063");
    private static final Set<String> LATE = Set.of("msg-0031", "msg-0077", "msg-0118");
    private static final Map<String, List<String>> GAPS = Map.of(
            "ticket-1042", List.of("msg-0040", "msg-0092"),
            "ticket-1043", List.of("msg-0061", "msg-0105"),
            "team-infra-oncall", List.of("msg-0089", "msg-0109"),
            "team-release-planning", List.of("msg-0091", "msg-0106"),
            "ticket-1044", List.of());

    @Test
    void chatStreamHasTheDocumentedDisorderAndSessionGaps() throws IOException {
        Path file = sampleData("chat-stream.jsonl");
        List<JsonNode> rows = readLines(file);
        assertEquals(150, rows.size());
        Set<String> ids = new HashSet<>();
        Map<String, List<JsonNode>> byConversation = new LinkedHashMap<>();
        Set<String> outOfOrder = new TreeSet<>();
        Set<String> late = new TreeSet<>();
        long maxSoFar = Long.MIN_VALUE;
        long previous = Long.MIN_VALUE;
        for (int i = 0; i < rows.size(); i++) {
            JsonNode m = rows.get(i);
            String where = file + ":" + (i + 1);
            assertEquals(CHAT_FIELDS, fieldNames(m), where + ": field names");
            String id = m.get("id").asText();
            assertTrue(id.matches("msg-\\d{4}") && ids.add(id), where + ": unique id " + id);
            for (String field : List.of("conversation_id", "author", "text")) {
                assertTrue(m.get(field).isTextual() && !m.get(field).asText().isBlank(), where + ": " + field);
            }
            assertTrue(m.get("metadata").isObject(), where + ": metadata");
            m.get("metadata").elements().forEachRemaining(v -> assertTrue(v.isTextual(), where + ": metadata values are strings"));
            assertTrue(m.get("event_time").isIntegralNumber(), where + ": event_time is epoch millis");
            long t = m.get("event_time").longValue();
            assertTrue(t >= HOUR_START && t < HOUR_END, where + ": event_time within 09:00-10:00 UTC");
            if (t < maxSoFar) {
                long lag = maxSoFar - t;                             // ms behind the stream
                if (lag <= 30_000) {
                    // Out of order: behind the previous line itself, by at most 30 s.
                    assertTrue(t < previous && previous - t <= 30_000, where + ": out-of-order within 30 s of the previous line");
                    outOfOrder.add(id);
                } else {
                    assertTrue(lag >= 3 * 60_000, where + ": a late message is minutes behind, got " + lag + " ms");
                    assertEquals("offline-retry", m.get("metadata").get("delivery").asText(), where + ": late message metadata");
                    late.add(id);
                }
            }
            maxSoFar = Math.max(maxSoFar, t);
            previous = t;
            byConversation.computeIfAbsent(m.get("conversation_id").asText(), k -> new ArrayList<>()).add(m);
        }
        assertEquals(OUT_OF_ORDER, outOfOrder);
        assertEquals(LATE, late);
        // The simulated hour starts at 09:00 and the stream reaches its last minute.
        assertTrue(rows.get(0).get("event_time").longValue() - HOUR_START < 60_000);
        assertTrue(HOUR_END - maxSoFar < 2 * 60_000);

        assertEquals(GAPS.keySet(), byConversation.keySet());
        for (Map.Entry<String, List<JsonNode>> e : byConversation.entrySet()) {
            List<JsonNode> messages = new ArrayList<>(e.getValue());
            messages.sort((a, b) -> Long.compare(a.get("event_time").longValue(), b.get("event_time").longValue()));
            List<String> gapEnds = new ArrayList<>();
            for (int i = 1; i < messages.size(); i++) {
                long gap = messages.get(i).get("event_time").longValue() - messages.get(i - 1).get("event_time").longValue();
                if (gap > 10 * 60_000) {
                    gapEnds.add(messages.get(i - 1).get("id").asText());
                    gapEnds.add(messages.get(i).get("id").asText());
                } else {
                    // No near-misses: a 10-minute session gap splits exactly at the documented places.
                    assertTrue(gap < 5 * 60_000, e.getKey() + ": gap of " + gap + " ms inside a session");
                }
            }
            assertEquals(GAPS.get(e.getKey()), gapEnds, e.getKey() + ": gaps over 10 minutes");
        }
        assertNotNull(byConversation.get("ticket-1044"));
    }
}
