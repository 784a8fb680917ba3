package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.FinishReason;

import java.util.List;
import java.util.Map;

/**
 * What the {@link TaskRunner} returns for one {@link TaskRequest}: a plain-Java mirror of the Avro
 * {@code InferenceResult}.
 *
 * @param output             the cleaned answer: the summary, translation or generated text; for CLASSIFY the
 *                           chosen label (multi-label: the chosen labels joined by ", ")
 * @param label              CLASSIFY: the most probable label, else null
 * @param labels             CLASSIFY: the chosen labels (one, or in multi-label mode all at or above the
 *                           threshold, most probable first), else empty
 * @param labelProbabilities CLASSIFY: softmax over the labels' scores, in the request's label order; else empty
 * @param promptTokens       tokens fed to the model over all engine calls (CLASSIFY: the shared prompt once plus
 *                           every label continuation)
 * @param completionTokens   tokens generated over all engine calls (0 for CLASSIFY)
 * @param finishReason       STOP or LENGTH (of the last generation call); ERROR with {@code error} set
 * @param error              why the request failed, else null
 * @param model              the model's name
 * @param queueMs            arrival → first scheduled, of the first engine call // ms
 * @param computeMs          the rest of the request's wall time // ms
 * @param batchSize          most sequences in one engine step this request ran in (CLASSIFY: over its label
 *                           scorings)
 * @param chunks             pieces the input was split into (1 when it fitted the context)
 */
public record TaskResult(
        String id,
        Task task,
        String output,
        String label,
        List<String> labels,
        Map<String, Double> labelProbabilities,
        int promptTokens,
        int completionTokens,
        FinishReason finishReason,
        String error,
        String model,
        double queueMs,
        double computeMs,
        int batchSize,
        int chunks,
        Map<String, String> metadata) {

    public TaskResult {
        labels = labels == null ? List.of() : List.copyOf(labels);
        labelProbabilities = labelProbabilities == null ? Map.of() : java.util.Collections.unmodifiableMap(
                new java.util.LinkedHashMap<>(labelProbabilities));
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    /** A request that ended without an answer: ERROR (or CANCELLED / DEADLINE from the engine) and why. */
    static TaskResult failed(TaskRequest request, String model, FinishReason reason, String message, double elapsedMs) {
        return new TaskResult(request == null ? null : request.id(), request == null ? null : request.task(), "", null,
                null, null, 0, 0, reason, message, model, 0, elapsedMs, 0, 0,
                request == null ? null : request.metadata());
    }

    public boolean isError() {
        return finishReason == FinishReason.ERROR;
    }
}
