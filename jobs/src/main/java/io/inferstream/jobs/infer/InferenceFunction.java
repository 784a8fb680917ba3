package io.inferstream.jobs.infer;

import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs requests on the TaskManager's shared engine with Flink async I/O: {@link #asyncInvoke} hands the
 * request to the task runner and returns at once; the engine's step thread completes the result future.
 * Async I/O bounds the requests in flight (back-pressure on the source), keeps them in checkpoints (a
 * restart re-submits them) and calls {@link #timeout} for one that takes too long. Every request gets
 * exactly one result: a failure in the engine or a timeout becomes an ERROR / DEADLINE result with the
 * reason, never a job failure.
 */
public final class InferenceFunction extends RichAsyncFunction<InferenceRequest, InferenceResult> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(InferenceFunction.class);

    private final EngineSpec spec;
    private final TaskOptions options;
    private final long timeoutMs;

    private transient SharedEngines.Lease lease;
    private transient TaskRunner runner;
    private transient Clock clock;
    private transient Counter results;
    private transient Counter errors;
    private transient Counter timeouts;

    /** @param timeoutMs per-request timeout: a request not done by then gets a DEADLINE result // ms */
    public InferenceFunction(EngineSpec spec, TaskOptions options, long timeoutMs) {
        if (timeoutMs <= 0) {
            throw new IllegalArgumentException("request timeout must be > 0 ms, got " + timeoutMs);
        }
        this.spec = spec;
        this.options = options;
        this.timeoutMs = timeoutMs;
    }

    public long timeoutMs() {
        return timeoutMs;
    }

    @Override
    public void open(OpenContext openContext) {
        clock = Clock.systemUTC();
        lease = SharedEngines.acquire(spec);
        LoadedModel model = lease.model();
        runner = new TaskRunner(model.engine(), model.modelConfig(), model.tokenizer(), model.chatTemplate(),
                options.taskDefaults(), spec.modelName());
        var group = getRuntimeContext().getMetricGroup();
        EngineMetricGauges.register(group, () -> model.engine().metrics()); // the model, not the lease: gauges outlive close()
        results = group.counter("results");
        errors = group.counter("errorResults");
        timeouts = group.counter("timeouts");
    }

    @Override
    public void asyncInvoke(InferenceRequest request, ResultFuture<InferenceResult> resultFuture) {
        CompletableFuture<TaskResult> future;
        try {
            TaskRequest task = TaskMapping.toTask(request, options);
            if (options.overlongPrompt() == OverlongPromptPolicy.TRUNCATE) {
                task = OverlongPrompts.truncate(task, runner, lease.model().tokenizer());
            }
            future = runner.run(task);
        } catch (RuntimeException e) {
            complete(resultFuture, TaskMapping.failed(request, FinishReason.ERROR, "could not submit: " + e,
                    spec.modelName(), 0, clock));
            return;
        }
        future.whenComplete((result, failure) -> {
            InferenceResult out = failure != null
                    ? TaskMapping.failed(request, FinishReason.ERROR, "engine failure: " + failure, spec.modelName(), 0, clock)
                    : TaskMapping.toResult(request, result, clock);
            complete(resultFuture, out);
        });
    }

    @Override
    public void timeout(InferenceRequest request, ResultFuture<InferenceResult> resultFuture) {
        // The task layer has no cancel: the engine finishes the work and async I/O drops the late result.
        timeouts.inc();
        complete(resultFuture, TaskMapping.failed(request, FinishReason.DEADLINE,
                "timed out after " + timeoutMs + " ms (request timeout)", spec.modelName(), timeoutMs, clock));
    }

    private void complete(ResultFuture<InferenceResult> resultFuture, InferenceResult result) {
        results.inc();
        if (result.getFinishReason() == FinishReason.ERROR) {
            errors.inc();
        }
        try {
            // Async I/O ignores a second completion (the engine answering after a timeout).
            resultFuture.complete(List.of(result));
        } catch (RuntimeException e) {
            // The operator is closing (failover or cancel): the request is in the checkpoint and is re-submitted.
            LOG.debug("result for {} dropped: the operator is closing ({})", result.getId(), e.toString());
        }
    }

    @Override
    public void close() {
        if (lease != null) {
            lease.close();
            lease = null;
        }
    }
}
