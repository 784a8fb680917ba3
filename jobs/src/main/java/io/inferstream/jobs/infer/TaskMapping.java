package io.inferstream.jobs.infer;

import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.SamplingOptions;
import io.inferstream.schema.Task;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Between the wire records (Avro {@link InferenceRequest} / {@link InferenceResult}) and the task layer. */
public final class TaskMapping {
    private TaskMapping() {
    }

    public static TaskRequest toTask(InferenceRequest r) {
        SamplingOptions s = r.getSampling();
        TaskRequest.SamplingOverrides sampling = s == null ? TaskRequest.SamplingOverrides.NONE
                : new TaskRequest.SamplingOverrides(s.getTemperature(), s.getTopK(), s.getTopP(), s.getMinP(),
                        s.getRepetitionPenalty(), s.getSeed(), s.getNumBeams());
        return new TaskRequest(r.getId(), TaskRequest.Task.valueOf(r.getTask().name()), r.getText(),
                List.copyOf(r.getLabels()), r.getSourceLanguage(), r.getTargetLanguage(), r.getInstruction(),
                r.getMaxNewTokens(), sampling, Map.copyOf(r.getMetadata()));
    }

    /** The wire result of {@code result}, carrying the request's id, task and metadata. */
    public static InferenceResult toResult(InferenceRequest request, TaskResult result, Clock clock) {
        FinishReason reason = finishReason(result.finishReason());
        String error = result.error();
        if (reason == FinishReason.ERROR && (error == null || error.isBlank())) {
            error = "the task layer reported " + result.finishReason() + " without a reason";
        }
        return InferenceResult.newBuilder()
                .setId(request.getId())
                .setTask(request.getTask())
                .setOutput(result.output())
                .setLabel(result.label())
                .setLabelProbabilities(result.labelProbabilities() == null ? new HashMap<>()
                        : new HashMap<>(result.labelProbabilities()))
                .setPromptTokens(result.promptTokens())
                .setCompletionTokens(result.completionTokens())
                .setFinishReason(reason)
                .setError(error)
                .setModel(result.model())
                .setQueueMs(result.queueMs())
                .setComputeMs(result.computeMs())
                .setBatchSize(Math.max(1, result.batchSize()))
                .setMetadata(new HashMap<>(request.getMetadata()))
                .setCompletedAt(clock.instant())
                .build();
    }

    /** A result that ran no model: {@code reason} (ERROR or DEADLINE) with what went wrong. */
    public static InferenceResult failed(InferenceRequest request, FinishReason reason, String error, String model,
            long queueMs, Clock clock) {
        return InferenceResult.newBuilder()
                .setId(request.getId())
                .setTask(request.getTask())
                .setOutput(null)
                .setLabel(null)
                .setLabelProbabilities(new HashMap<>())
                .setPromptTokens(0)
                .setCompletionTokens(0)
                .setFinishReason(reason)
                .setError(error)
                .setModel(model)
                .setQueueMs(queueMs)
                .setComputeMs(0L)
                .setBatchSize(1)
                .setMetadata(new HashMap<>(request.getMetadata()))
                .setCompletedAt(clock.instant())
                .build();
    }

    static FinishReason finishReason(String name) {
        if (name == null) {
            return FinishReason.ERROR;
        }
        try {
            return FinishReason.valueOf(name);
        } catch (IllegalArgumentException e) {
            return FinishReason.ERROR; // as the schema's enum default says for unknown symbols
        }
    }

    static Task task(TaskRequest.Task task) {
        return Task.valueOf(task.name());
    }
}
