package io.inferstream.jobs.infer;

import java.util.Map;

/**
 * INTERIM copy of the task layer's result ({@code io.inferstream.runtime.tasks.TaskResult}, branch
 * {@code tasks}); replaced by it when that branch is merged.
 *
 * @param output            generated text (SUMMARIZE, TRANSLATE, GENERATE), null for CLASSIFY or on error
 * @param labelProbabilities CLASSIFY: probability of each label, summing to 1
 * @param finishReason      STOP, LENGTH, ERROR, CANCELLED or DEADLINE
 * @param queueMs           arrival at the runner → first model step // ms
 * @param computeMs         first model step → done // ms
 * @param batchSize         most sequences in one model step with this request
 * @param chunks            model calls the request was split into (1 unless a long text was chunked)
 */
public record TaskResult(
        String id,
        TaskRequest.Task task,
        String output,
        String label,
        Map<String, Double> labelProbabilities,
        int promptTokens,
        int completionTokens,
        String finishReason,
        String error,
        String model,
        long queueMs,
        long computeMs,
        int batchSize,
        int chunks) {

    public static TaskResult error(TaskRequest request, String model, String reason) {
        return new TaskResult(request.id(), request.task(), null, null, Map.of(), 0, 0, "ERROR", reason, model, 0, 0, 1, 0);
    }
}
