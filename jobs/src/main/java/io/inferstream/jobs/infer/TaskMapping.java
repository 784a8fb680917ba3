package io.inferstream.jobs.infer;

import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.SamplingOptions;
import io.inferstream.schema.Task;
import java.time.Clock;
import java.util.HashMap;

/** Between the wire records (Avro {@link InferenceRequest} / {@link InferenceResult}) and the task layer. */
public final class TaskMapping {
    private TaskMapping() {
    }

    /** The task-layer request of {@code r}; {@code options} caps its max_new_tokens. */
    public static TaskRequest toTask(InferenceRequest r, TaskOptions options) {
        TaskRequest.Builder b = TaskRequest.builder(r.getId(), io.inferstream.runtime.tasks.Task.valueOf(r.getTask().name()),
                        r.getText())
                .labels(r.getLabels())
                .sourceLanguage(r.getSourceLanguage())
                .targetLanguage(r.getTargetLanguage())
                .instruction(r.getInstruction())
                .maxNewTokens(options.cap(r.getMaxNewTokens()))
                .metadata(r.getMetadata());
        SamplingOptions s = r.getSampling();
        if (s != null) {
            b.temperature(toFloat(s.getTemperature()))
                    .topK(s.getTopK())
                    .topP(toFloat(s.getTopP()))
                    .minP(toFloat(s.getMinP()))
                    .repetitionPenalty(toFloat(s.getRepetitionPenalty()))
                    .seed(s.getSeed())
                    .numBeams(s.getNumBeams());
        }
        return b.build();
    }

    /**
     * The wire result of {@code result}, carrying the request's id, task and metadata. CLASSIFY puts its answer
     * in {@code label} only (the schema's {@code output} is for generated text); a failed request has no output.
     */
    public static InferenceResult toResult(InferenceRequest request, TaskResult result, Clock clock) {
        FinishReason reason = finishReason(result.finishReason() == null ? null : result.finishReason().name());
        boolean failed = reason == FinishReason.ERROR || reason == FinishReason.CANCELLED || reason == FinishReason.DEADLINE;
        String error = result.error();
        if (failed && (error == null || error.isBlank())) {
            error = "the task layer reported " + reason + " without a reason";
        }
        boolean generated = request.getTask() != Task.CLASSIFY && !failed;
        return InferenceResult.newBuilder()
                .setId(request.getId())
                .setTask(request.getTask())
                .setOutput(generated ? result.output() : null)
                .setLabel(failed ? null : result.label())
                .setLabelProbabilities(result.labelProbabilities() == null ? new HashMap<>()
                        : new HashMap<>(result.labelProbabilities()))
                .setPromptTokens(result.promptTokens())
                .setCompletionTokens(result.completionTokens())
                .setFinishReason(reason)
                .setError(failed ? error : null)
                .setModel(result.model())
                .setQueueMs(Math.round(result.queueMs()))
                .setComputeMs(Math.round(result.computeMs()))
                .setBatchSize(result.batchSize()) // 0: not reported (the engine's scoring path, used by CLASSIFY)
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
                .setBatchSize(0)
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

    private static Float toFloat(Double d) {
        return d == null ? null : d.floatValue();
    }
}
