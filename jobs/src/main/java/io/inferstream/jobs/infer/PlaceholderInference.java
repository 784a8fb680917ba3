package io.inferstream.jobs.infer;

import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.time.Clock;
import java.util.HashMap;
import org.apache.flink.api.common.functions.MapFunction;

/**
 * PLACEHOLDER for the inference step, to be replaced by the async inference operator (Flink async
 * I/O over the shared model-runtime Engine) in a later issue. It runs no model: each request gets
 * an honest "not computed" result (finish_reason ERROR, no output, zero tokens) that carries the
 * request's id, task and metadata, so the plumbing around it (decode, sinks, exactly-once) can be
 * built and tested end to end. Swap it out where the job wires its inference stage.
 */
public final class PlaceholderInference implements MapFunction<InferenceRequest, InferenceResult> {
    private static final long serialVersionUID = 1L;
    public static final String MODEL = "none (placeholder)";
    public static final String ERROR = "not computed: placeholder inference stage, no model is run yet";

    private final Clock clock;

    public PlaceholderInference(Clock clock) {
        this.clock = clock;
    }

    public PlaceholderInference() {
        this(Clock.systemUTC());
    }

    @Override
    public InferenceResult map(InferenceRequest request) {
        return InferenceResult.newBuilder()
                .setId(request.getId())
                .setTask(request.getTask())
                .setOutput(null)
                .setLabel(null)
                .setLabelProbabilities(new HashMap<>())
                .setPromptTokens(0)
                .setCompletionTokens(0)
                .setFinishReason(FinishReason.ERROR)
                .setError(ERROR)
                .setModel(MODEL)
                .setQueueMs(0L)
                .setComputeMs(0L)
                .setBatchSize(1)
                .setMetadata(new HashMap<>(request.getMetadata()))
                .setCompletedAt(clock.instant())
                .build();
    }
}
