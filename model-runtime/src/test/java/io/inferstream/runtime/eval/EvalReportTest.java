package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalReportTest {

    private static EvalReport sampleReport() {
        ConfusionMatrix matrix = ConfusionMatrix.of(
                List.of("a", "a", "a", "b", "b", "c"),
                List.of("a", "a", "b", "b", "c", "c"));
        ReliabilityDiagram calibration = ReliabilityDiagram.of(
                new double[] {0.95, 0.95, 1.0, 0.55, 0.6, 0.6},
                new boolean[] {true, true, false, false, false, true});
        Map<String, Double> classifyMetrics = new LinkedHashMap<>();
        classifyMetrics.put("accuracy", matrix.accuracy());
        classifyMetrics.put("macro_f1", matrix.macroF1());
        TaskEvaluation classify = TaskEvaluation.classification("CLASSIFY", "eval/classification.jsonl",
                classifyMetrics, matrix, calibration, 300, 100, 8.0);
        Map<String, Double> summarizeMetrics = new LinkedHashMap<>();
        summarizeMetrics.put("rouge1_f", 0.25);
        summarizeMetrics.put("rougeL_f", 0.125);
        TaskEvaluation summarize = TaskEvaluation.of("SUMMARIZE", "eval/summarization.jsonl", 30,
                summarizeMetrics, 1200, 600, 0.0);
        return new EvalReport("stories260K.gguf", "cpu", 1_768_467_600_000L, List.of(classify, summarize));
    }

    @Test
    void throughputIsTokensOverElapsedSeconds() {
        TaskEvaluation classify = sampleReport().tasks().get(0);
        // (300 prompt + 100 generated) tokens / 8 s = 50 tokens/s; 100 / 8 = 12.5 generated tokens/s;
        // 6 examples / 8 s = 0.75 examples/s.
        assertEquals(50.0, classify.tokensPerSecond(), 1e-12);
        assertEquals(12.5, classify.generatedTokensPerSecond(), 1e-12);
        assertEquals(0.75, classify.examplesPerSecond(), 1e-12);
        // No elapsed time: no throughput rather than infinity.
        assertEquals(0.0, sampleReport().tasks().get(1).tokensPerSecond());
    }

    @Test
    void jsonRoundTripsAndCarriesThroughput(@TempDir Path dir) throws Exception {
        EvalReport report = sampleReport();
        Path file = dir.resolve("report.json");
        report.writeJson(file);
        String json = Files.readString(file);
        assertEquals(report, EvalReport.fromJson(json));

        JsonNode tree = new ObjectMapper().readTree(json);
        JsonNode classify = tree.get("tasks").get(0);
        assertEquals("CLASSIFY", classify.get("task").asText());
        assertEquals(6, classify.get("examples").asInt());
        assertEquals(50.0, classify.get("tokensPerSecond").asDouble(), 1e-12);
        assertEquals(4.0 / 6.0, classify.get("metrics").get("accuracy").asDouble(), 1e-12);
        assertEquals(1, classify.get("confusionMatrix").get("a").get("b").asInt());
        // Bin (0.5, 0.6]: 0.55 wrong, 0.6 wrong, 0.6 right -> 3 predictions, accuracy 1/3.
        JsonNode bin = classify.get("calibrationBins").get(5);
        assertEquals(3, bin.get("count").asInt());
        assertEquals(1.0 / 3.0, bin.get("accuracy").asDouble(), 1e-12);
    }

    @Test
    void markdownHasSummaryMetricsConfusionAndCalibrationTables(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("report.md");
        sampleReport().writeMarkdown(file);
        String md = Files.readString(file);
        assertTrue(md.startsWith("# Evaluation: stories260K.gguf\n"), md);
        assertTrue(md.contains("| CLASSIFY | eval/classification.jsonl | 6 | 300 | 100 | 8.00 | 50.0 | 12.5 |\n"), md);
        assertTrue(md.contains("| SUMMARIZE | eval/summarization.jsonl | 30 | 1200 | 600 | 0.00 | 0.0 | 0.0 |\n"), md);
        // One column per metric name across tasks; a task without a metric shows "–".
        assertTrue(md.contains("| task | accuracy | macro_f1 | rouge1_f | rougeL_f |\n"), md);
        // accuracy 4/6 = 0.6667, macro-F1 (0.8 + 0.5 + 2/3) / 3 = 0.6556.
        assertTrue(md.contains("| CLASSIFY | 0.6667 | 0.6556 | – | – |\n"), md);
        assertTrue(md.contains("| SUMMARIZE | – | – | 0.2500 | 0.1250 |\n"), md);
        assertTrue(md.contains("| a | 2 | 1 | 0 |\n"), md);
        assertTrue(md.contains("| (0.50, 0.60] | 3 | 0.5833 | 0.3333 |\n"), md);
    }

    @Test
    void rejectsReportsWithoutModelAndNegativeCounts() {
        assertThrows(IllegalArgumentException.class, () -> new EvalReport(" ", null, 0, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> TaskEvaluation.of("GENERATE", null, 1, Map.of(), -1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> EvalReport.fromJson("{not json"));
    }
}
