package io.inferstream.runtime.eval;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The result of evaluating one task (e.g. CLASSIFY on sample-data/eval/classification.jsonl): the metric
 * values by name ("accuracy", "macro_f1", "ece", "rouge1_f", "rougeL_f", "exact_match", "token_f1" …),
 * token counts and wall time, and for classification the confusion matrix (gold → predicted → count)
 * and the reliability-diagram bins.
 *
 * @param promptTokens    tokens fed to the model (prompts, including label-scoring continuations)
 * @param generatedTokens tokens the model sampled
 * @param elapsedSeconds  wall time of the task's inference, seconds
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonIgnoreProperties(value = {"tokensPerSecond", "generatedTokensPerSecond", "examplesPerSecond"}, allowGetters = true)
public record TaskEvaluation(
        String task,
        String dataset,
        int examples,
        Map<String, Double> metrics,
        long promptTokens,
        long generatedTokens,
        double elapsedSeconds,
        Map<String, Map<String, Integer>> confusionMatrix,
        List<CalibrationBin> calibrationBins) {

    public TaskEvaluation {
        if (task == null || task.isBlank()) {
            throw new IllegalArgumentException("task evaluation needs a task name");
        }
        if (examples < 0 || promptTokens < 0 || generatedTokens < 0 || elapsedSeconds < 0) {
            throw new IllegalArgumentException("task " + task + ": counts and elapsed time must be >= 0, got examples="
                    + examples + " promptTokens=" + promptTokens + " generatedTokens=" + generatedTokens
                    + " elapsedSeconds=" + elapsedSeconds);
        }
        metrics = metrics == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        confusionMatrix = confusionMatrix == null ? Map.of() : confusionMatrix;
        calibrationBins = calibrationBins == null ? List.of() : List.copyOf(calibrationBins);
    }

    /** A task with metrics only (generation tasks: no confusion matrix or calibration). */
    public static TaskEvaluation of(String task, String dataset, int examples, Map<String, Double> metrics,
                                    long promptTokens, long generatedTokens, double elapsedSeconds) {
        return new TaskEvaluation(task, dataset, examples, metrics, promptTokens, generatedTokens, elapsedSeconds, null, null);
    }

    /** A classification task: its confusion matrix and reliability diagram travel with the metrics. */
    public static TaskEvaluation classification(String task, String dataset, Map<String, Double> metrics,
                                                ConfusionMatrix matrix, ReliabilityDiagram calibration,
                                                long promptTokens, long generatedTokens, double elapsedSeconds) {
        return new TaskEvaluation(task, dataset, matrix.total(), metrics, promptTokens, generatedTokens, elapsedSeconds,
                matrix.asMap(), calibration == null ? null : calibration.bins());
    }

    /** (prompt + generated tokens) / elapsed seconds; 0 when no time elapsed. */
    @JsonProperty("tokensPerSecond")
    public double tokensPerSecond() {
        return elapsedSeconds > 0 ? (promptTokens + generatedTokens) / elapsedSeconds : 0.0;
    }

    @JsonProperty("generatedTokensPerSecond")
    public double generatedTokensPerSecond() {
        return elapsedSeconds > 0 ? generatedTokens / elapsedSeconds : 0.0;
    }

    @JsonProperty("examplesPerSecond")
    public double examplesPerSecond() {
        return elapsedSeconds > 0 ? examples / elapsedSeconds : 0.0;
    }
}
