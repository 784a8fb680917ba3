package io.inferstream.runtime.eval;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * An evaluation run: which model, when, and one {@link TaskEvaluation} per task. Written as JSON (for
 * machines: read back with {@link #fromJson}) and as Markdown (for docs/benchmarks and pull requests).
 *
 * @param createdAt epoch milliseconds of the run
 */
public record EvalReport(String model, String device, long createdAt, List<TaskEvaluation> tasks) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public EvalReport {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("an evaluation report needs the model it evaluated");
        }
        tasks = tasks == null ? List.of() : List.copyOf(tasks);
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise evaluation report of " + model, e);
        }
    }

    public static EvalReport fromJson(String json) {
        try {
            return JSON.readValue(json, EvalReport.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not an evaluation report JSON: " + e.getOriginalMessage(), e);
        }
    }

    public void writeJson(Path file) throws IOException {
        write(file, toJson());
    }

    public void writeMarkdown(Path file) throws IOException {
        write(file, toMarkdown());
    }

    private static void write(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /**
     * A summary table (one row per task: examples, tokens, throughput), a metrics table (one column per
     * metric name across all tasks, "–" where a task lacks it), then each classification task's confusion
     * matrix and calibration bins. Numbers: metrics with 4 decimals, throughput with 1.
     */
    public String toMarkdown() {
        StringBuilder md = new StringBuilder();
        md.append("# Evaluation: ").append(model).append("\n\n");
        if (device != null && !device.isBlank()) {
            md.append("Device: ").append(device).append("\n\n");
        }
        md.append("| task | dataset | examples | prompt tokens | generated tokens | seconds | tokens/s | generated tokens/s |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (TaskEvaluation t : tasks) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %.2f | %.1f | %.1f |%n",
                    t.task(), t.dataset() == null ? "" : t.dataset(), t.examples(), t.promptTokens(),
                    t.generatedTokens(), t.elapsedSeconds(), t.tokensPerSecond(), t.generatedTokensPerSecond()));
        }
        Set<String> metricNames = new LinkedHashSet<>();
        tasks.forEach(t -> metricNames.addAll(t.metrics().keySet()));
        if (!metricNames.isEmpty()) {
            md.append("\n| task |");
            metricNames.forEach(name -> md.append(' ').append(name).append(" |"));
            md.append("\n|---|").append("---:|".repeat(metricNames.size())).append('\n');
            for (TaskEvaluation t : tasks) {
                md.append("| ").append(t.task()).append(" |");
                for (String name : metricNames) {
                    Double value = t.metrics().get(name);
                    md.append(' ').append(value == null ? "–" : String.format(Locale.ROOT, "%.4f", value)).append(" |");
                }
                md.append('\n');
            }
        }
        for (TaskEvaluation t : tasks) {
            if (!t.confusionMatrix().isEmpty()) {
                md.append("\n## ").append(t.task()).append(": confusion matrix (rows gold, columns predicted)\n\n");
                appendConfusionMatrix(md, t.confusionMatrix());
            }
            if (!t.calibrationBins().isEmpty()) {
                md.append("\n## ").append(t.task()).append(": calibration bins\n\n");
                md.append("| confidence | count | mean confidence | accuracy |\n|---|---:|---:|---:|\n");
                for (CalibrationBin bin : t.calibrationBins()) {
                    md.append(String.format(Locale.ROOT, "| (%.2f, %.2f] | %d | %.4f | %.4f |%n",
                            bin.lower(), bin.upper(), bin.count(), bin.meanConfidence(), bin.accuracy()));
                }
            }
        }
        return md.toString();
    }

    private static void appendConfusionMatrix(StringBuilder md, Map<String, Map<String, Integer>> matrix) {
        List<String> labels = new ArrayList<>(matrix.keySet());
        md.append("| gold \\ predicted |");
        labels.forEach(l -> md.append(' ').append(l).append(" |"));
        md.append("\n|---|").append("---:|".repeat(labels.size())).append('\n');
        for (String gold : labels) {
            md.append("| ").append(gold).append(" |");
            for (String predicted : labels) {
                md.append(' ').append(matrix.get(gold).getOrDefault(predicted, 0)).append(" |");
            }
            md.append('\n');
        }
    }
}
