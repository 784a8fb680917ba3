package io.inferstream.jobs.infer;

import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.hub.HfUri;
import io.inferstream.runtime.tasks.RunningTask;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one task per element on the TaskManager's shared engine ({@link SharedEngines}: the same engine, hence
 * the same batches, for every operator with an equal {@link EngineSpec}) with Flink async I/O:
 * {@link #asyncInvoke} hands the task to the task runner and returns at once; the engine's step thread
 * completes the result future. Async I/O bounds the elements in flight (back-pressure on the source), keeps
 * them in checkpoints (a restart re-submits them) and calls {@link #timeout} for one that takes too long.
 *
 * <p>Every element gets exactly one output: a failure of its request or a timeout becomes an output carrying the
 * reason ({@link #failed}), never a job failure. A failure of the engine itself
 * ({@link io.inferstream.runtime.engine.Engine#failure()}: its GPU lost to a sticky error, its step loop dead) is
 * not the element's: it fails the task instead, so that Flink restarts it from its last checkpoint on a newly
 * loaded engine ({@link SharedEngines} never hands a failed one out again) and the elements in flight run again.
 *
 * <p>An element's task gets the request timeout as its deadline, so the engine stops its work when it passes, and
 * the task is cancelled when async I/O gives up on it first or the operator closes: a timed-out request does not
 * keep using batch slots and KV blocks for an answer nobody reads. Subclasses say only how an element becomes a
 * task and how a task result (or a failure) becomes an output.
 */
public abstract class SharedEngineAsyncFunction<IN, OUT> extends RichAsyncFunction<IN, OUT> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(SharedEngineAsyncFunction.class);

    /** Why an element got no task result. */
    public enum Failure {
        /** The task could not be submitted or the engine failed it. */
        ERROR,
        /** The per-element timeout passed first. */
        TIMEOUT
    }

    private final EngineSpec spec;
    private final TaskOptions options;
    private final long timeoutMs;
    private final String outputsMetric;
    private final String errorsMetric;

    private transient SharedEngines.Lease lease;
    private transient TaskRunner runner;
    private transient Clock clock;
    private transient Counter outputs;
    private transient Counter errors;
    private transient Counter timeouts;
    /** The tasks of elements in flight, by the element's result future (async I/O hands the same one to timeout). */
    private transient Map<ResultFuture<OUT>, RunningTask> running;

    /**
     * @param timeoutMs an element not done by then gets a {@link Failure#TIMEOUT} output // ms
     * @param outputsMetric name of the counter of all outputs; {@code errorsMetric} of those that are errors
     */
    protected SharedEngineAsyncFunction(EngineSpec spec, TaskOptions options, long timeoutMs,
            String outputsMetric, String errorsMetric) {
        if (timeoutMs <= 0) {
            throw new IllegalArgumentException("request timeout must be > 0 ms, got " + timeoutMs);
        }
        this.spec = spec;
        this.options = options;
        this.timeoutMs = timeoutMs;
        this.outputsMetric = outputsMetric;
        this.errorsMetric = errorsMetric;
    }

    public long timeoutMs() {
        return timeoutMs;
    }

    protected final EngineSpec spec() {
        return spec;
    }

    protected final TaskOptions options() {
        return options;
    }

    /** The runner on the leased engine; set from {@link #open} on. */
    protected final TaskRunner runner() {
        return runner;
    }

    /** The leased model; set from {@link #open} on. */
    protected final LoadedModel model() {
        return lease.model();
    }

    protected final Clock clock() {
        return clock;
    }

    /** The task that processes {@code in}; an exception here becomes a {@link Failure#ERROR} output. */
    protected abstract TaskRequest toTask(IN in);

    /** The output for {@code in} from its task's result (which may itself report an error). */
    protected abstract OUT toOutput(IN in, TaskResult result);

    /** The output for {@code in} when its task produced no result. */
    protected abstract OUT failed(IN in, Failure failure, String error, long queueMs);

    /** Whether {@code out} reports an error (counted in the errors metric). */
    protected abstract boolean isError(OUT out);

    @Override
    public void open(OpenContext openContext) {
        clock = Clock.systemUTC();
        if (HfUri.isHfSpec(spec.model())) { // this TaskManager may have to download it first: say how far it is
            EngineMetricGauges.registerDownload(getRuntimeContext().getMetricGroup(), spec.model());
        }
        // a spec that names no GPU: spread over the GPUs Flink gave this TaskManager, if it gave any
        lease = SharedEngines.acquire(spec, TaskManagerGpus.indices(getRuntimeContext().getExternalResourceInfos(TaskManagerGpus.RESOURCE)));
        LoadedModel model = lease.model();
        runner = new TaskRunner(model.engine(), model.modelConfig(), model.tokenizer(), model.chatTemplate(),
                options.taskDefaults(), spec.modelName());
        var group = getRuntimeContext().getMetricGroup();
        // the model, not the lease: gauges outlive close()
        EngineMetricGauges.register(group, model.device(), model.choice(), () -> model.engine().metrics());
        outputs = group.counter(outputsMetric);
        errors = group.counter(errorsMetric);
        timeouts = group.counter("timeouts");
        running = Collections.synchronizedMap(new IdentityHashMap<>());
    }

    @Override
    public void asyncInvoke(IN in, ResultFuture<OUT> resultFuture) {
        if (engineFailed(resultFuture)) {
            return;
        }
        RunningTask task;
        try {
            task = runner.start(toTask(in), Duration.ofMillis(timeoutMs));
        } catch (RuntimeException e) {
            complete(resultFuture, failed(in, Failure.ERROR, "could not submit: " + e, 0));
            return;
        }
        running.put(resultFuture, task);
        task.result().whenComplete((result, failure) -> {
            if (running.remove(resultFuture) == null) {
                // timeout() gave the element its output first, or close() cancelled it (then the element is in the
                // checkpoint and is re-submitted): this late result is not an output.
                return;
            }
            if (engineFailed(resultFuture)) {
                return;
            }
            if (failure != null) {
                complete(resultFuture, failed(in, Failure.ERROR, "engine failure: " + failure, 0));
            } else if (result.finishReason() == FinishReason.DEADLINE) {
                // The engine reached the request timeout before async I/O's timer: the same output as timeout().
                timedOut(in, resultFuture);
            } else {
                complete(resultFuture, toOutput(in, result));
            }
        });
    }

    @Override
    public void timeout(IN in, ResultFuture<OUT> resultFuture) {
        RunningTask task = running.remove(resultFuture);
        if (task == null) {
            return; // its result got there first
        }
        // Stop its engine calls now rather than at the engine's deadline check; their late result is dropped.
        task.cancel("timed out after " + timeoutMs + " ms (request timeout)");
        timedOut(in, resultFuture);
    }

    private void timedOut(IN in, ResultFuture<OUT> resultFuture) {
        timeouts.inc();
        complete(resultFuture, failed(in, Failure.TIMEOUT,
                "timed out after " + timeoutMs + " ms (request timeout)", timeoutMs));
    }

    /**
     * When the engine has failed, fails the task through {@code resultFuture} (async I/O then fails the operator) and
     * returns true: the element's result, an ERROR that says nothing of the element, is not its output.
     */
    private boolean engineFailed(ResultFuture<OUT> resultFuture) {
        Optional<String> failure = lease.model().engine().failure();
        if (failure.isEmpty()) {
            return false;
        }
        try {
            resultFuture.completeExceptionally(new EngineFailedException("the engine of model " + spec.modelName() + " on "
                    + spec.device() + " failed, so this task fails and restarts from its last checkpoint on a new "
                    + "engine: " + failure.get()));
        } catch (RuntimeException e) {
            LOG.debug("the operator is closing ({})", e.toString());
        }
        return true;
    }

    /** The task's failure when its engine failed (not any element's). */
    public static final class EngineFailedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        EngineFailedException(String message) {
            super(message);
        }
    }

    private void complete(ResultFuture<OUT> resultFuture, OUT out) {
        outputs.inc();
        if (isError(out)) {
            errors.inc();
        }
        try {
            // Each element completes once: whichever of its result and its timeout removes it from running.
            resultFuture.complete(List.of(out));
        } catch (RuntimeException e) {
            // The operator is closing (failover or cancel): the element is in the checkpoint and is re-submitted.
            LOG.debug("an output was dropped: the operator is closing ({})", e.toString());
        }
    }

    /** Cancels the tasks still in flight (failover or job cancel: async I/O re-submits them from the checkpoint). */
    @Override
    public void close() {
        if (running != null) {
            List<RunningTask> tasks;
            synchronized (running) {
                tasks = new ArrayList<>(running.values());
                running.clear();
            }
            tasks.forEach(t -> t.cancel("the operator closed before the request finished"));
        }
        if (lease != null) {
            lease.close();
            lease = null;
        }
    }
}
