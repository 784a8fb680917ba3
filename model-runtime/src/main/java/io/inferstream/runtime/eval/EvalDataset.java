package io.inferstream.runtime.eval;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads an evaluation set: JSON Lines, one {@link EvalExample} per non-blank line, with the field names of
 * InferenceRequest ({@code id, task, text, labels, source_language, target_language, instruction,
 * max_new_tokens, metadata}) plus {@code expected_label} or {@code reference}; or a file another
 * {@link EvalSetFormat} on the class path reads (Parquet, from the jobs module), one example per row with
 * columns of those names.
 *
 * <p>Each example is checked for what its task's metric needs — a unique id, a known task, labels and an
 * expected label among them for CLASSIFY, a target language and a reference for TRANSLATE, a reference
 * for SUMMARIZE — and a violation fails with the file, the line (or row) number and the field.
 */
public final class EvalDataset {

    public static final Set<String> TASKS = Set.of("CLASSIFY", "SUMMARIZE", "TRANSLATE", "GENERATE");

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private EvalDataset() {
    }

    public static List<EvalExample> read(Path file) throws IOException {
        for (EvalSetFormat format : ServiceLoader.load(EvalSetFormat.class)) {
            if (format.reads(file)) {
                return read(file, format);
            }
        }
        if (file.getFileName() != null && file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet")) {
            throw new IllegalArgumentException(file + ": no reader for Parquet evaluation sets on this class path;"
                    + " the inferstream command (jobs module) reads them");
        }
        return readJsonLines(file);
    }

    /** The examples of {@code file}'s rows as {@code format} reads them; errors say {@code file: row N}. */
    public static List<EvalExample> read(Path file, EvalSetFormat format) throws IOException {
        List<EvalExample> examples = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        List<? extends JsonNode> rows = format.rows(file);
        for (int i = 0; i < rows.size(); i++) {
            add(rows.get(i), file + ": row " + (i + 1), examples, ids);
        }
        return examples;
    }

    private static List<EvalExample> readJsonLines(Path file) throws IOException {
        List<EvalExample> examples = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + lineNumber;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(where + ": invalid JSON: " + e.getOriginalMessage(), e);
                }
                if (node == null || !node.isObject()) {
                    throw new IllegalArgumentException(where + ": expected a JSON object per line");
                }
                add(node, where, examples, ids);
            }
        }
        return examples;
    }

    private static void add(JsonNode node, String where, List<EvalExample> examples, Set<String> ids) {
        EvalExample example = parse(node, where);
        if (!ids.add(example.id())) {
            throw new IllegalArgumentException(where + ": duplicate id '" + example.id() + "'");
        }
        examples.add(example);
    }

    private static EvalExample parse(JsonNode node, String where) {
        String id = requiredText(node, "id", where);
        String task = requiredText(node, "task", where);
        if (!TASKS.contains(task)) {
            throw new IllegalArgumentException(where + ": field 'task' is '" + task + "', expected one of " + TASKS);
        }
        String text = requiredText(node, "text", where);
        List<String> labels = new ArrayList<>();
        JsonNode labelsNode = node.get("labels");
        if (labelsNode != null && !labelsNode.isNull()) {
            if (!labelsNode.isArray()) {
                throw new IllegalArgumentException(where + ": field 'labels' must be an array of strings");
            }
            for (JsonNode label : labelsNode) {
                if (!label.isTextual() || label.asText().isBlank()) {
                    throw new IllegalArgumentException(where + ": field 'labels' holds " + label + ", expected non-blank strings");
                }
                labels.add(label.asText());
            }
        }
        Integer maxNewTokens = null;
        JsonNode maxNode = node.get("max_new_tokens");
        if (maxNode != null && !maxNode.isNull()) {
            if (!maxNode.canConvertToInt() || maxNode.intValue() < 1) {
                throw new IllegalArgumentException(where + ": field 'max_new_tokens' is " + maxNode + ", expected a positive integer");
            }
            maxNewTokens = maxNode.intValue();
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode metadataNode = node.get("metadata");
        if (metadataNode != null && !metadataNode.isNull()) {
            if (!metadataNode.isObject()) {
                throw new IllegalArgumentException(where + ": field 'metadata' must be an object of strings");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = metadataNode.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    throw new IllegalArgumentException(where + ": metadata '" + e.getKey() + "' is " + e.getValue() + ", expected a string");
                }
                metadata.put(e.getKey(), e.getValue().asText());
            }
        }
        EvalExample example = new EvalExample(id, task, text, labels,
                optionalText(node, "source_language", where), optionalText(node, "target_language", where),
                optionalText(node, "instruction", where), maxNewTokens, metadata,
                optionalText(node, "expected_label", where), optionalText(node, "reference", where));
        checkTaskFields(example, where);
        return example;
    }

    private static void checkTaskFields(EvalExample e, String where) {
        switch (e.task()) {
            case "CLASSIFY" -> {
                if (e.labels().isEmpty()) {
                    throw new IllegalArgumentException(where + ": CLASSIFY example '" + e.id() + "' has no 'labels'");
                }
                if (e.expectedLabel() == null || !e.labels().contains(e.expectedLabel())) {
                    throw new IllegalArgumentException(where + ": CLASSIFY example '" + e.id() + "' has expected_label '"
                            + e.expectedLabel() + "', expected one of " + e.labels());
                }
            }
            case "TRANSLATE" -> {
                if (e.targetLanguage() == null || e.targetLanguage().isBlank()) {
                    throw new IllegalArgumentException(where + ": TRANSLATE example '" + e.id() + "' has no 'target_language'");
                }
                requireReference(e, where);
            }
            case "SUMMARIZE" -> requireReference(e, where);
            default -> {
            }
        }
    }

    private static void requireReference(EvalExample e, String where) {
        if (e.reference() == null || e.reference().isBlank()) {
            throw new IllegalArgumentException(where + ": " + e.task() + " example '" + e.id() + "' has no 'reference'");
        }
    }

    private static String requiredText(JsonNode node, String field, String where) {
        String value = optionalText(node, field, where);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(where + ": missing or blank field '" + field + "'");
        }
        return value;
    }

    private static String optionalText(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw new IllegalArgumentException(where + ": field '" + field + "' is " + value + ", expected a string");
        }
        return value.asText();
    }
}
