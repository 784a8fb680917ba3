package io.inferstream.jobs.infer;

import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;

/**
 * Runs inference requests on the TaskManager's shared engine with Flink async I/O
 * ({@link SharedEngineAsyncFunction}). Every request gets exactly one result: a failure of the request becomes
 * an ERROR result and a timeout a DEADLINE result, with the reason, never a job failure. A failed engine fails the
 * task instead, which restarts from its checkpoint on a new engine.
 */
public final class InferenceFunction extends SharedEngineAsyncFunction<InferenceRequest, InferenceResult> {
    private static final long serialVersionUID = 1L;

    /** @param timeoutMs per-request timeout: a request not done by then gets a DEADLINE result // ms */
    public InferenceFunction(EngineSpec spec, TaskOptions options, long timeoutMs) {
        super(spec, options, timeoutMs, "results", "errorResults");
    }

    @Override
    protected TaskRequest toTask(InferenceRequest request) {
        TaskRequest task = TaskMapping.toTask(request, options());
        if (options().overlongPrompt() == OverlongPromptPolicy.TRUNCATE) {
            task = OverlongPrompts.truncate(task, runner(), model().tokenizer());
        }
        return task;
    }

    @Override
    protected InferenceResult toOutput(InferenceRequest request, TaskResult result) {
        return TaskMapping.toResult(request, result, clock());
    }

    @Override
    protected InferenceResult failed(InferenceRequest request, Failure failure, String error, long queueMs) {
        FinishReason reason = failure == Failure.TIMEOUT ? FinishReason.DEADLINE : FinishReason.ERROR;
        return TaskMapping.failed(request, reason, error, spec().modelName(), queueMs, clock());
    }

    @Override
    protected boolean isError(InferenceResult result) {
        return result.getFinishReason() == FinishReason.ERROR;
    }
}
