package io.inferstream.jobs.digest;

import io.inferstream.jobs.infer.EngineMetricGauges;
import io.inferstream.jobs.infer.EngineSpec;
import io.inferstream.jobs.infer.LoadedModel;
import io.inferstream.jobs.infer.SharedEngines;
import io.inferstream.jobs.infer.TaskOptions;
import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import io.inferstream.schema.Digest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * Summarizes a window's transcript on the TaskManager's shared engine (the same {@link SharedEngines} entry,
 * hence the same engine and batches, as the streaming job's inference operator for an equal
 * {@link EngineSpec}) with Flink async I/O. The transcript goes to the task layer as a SUMMARIZE request, so a
 * transcript longer than the context is summarized hierarchically by the task layer's map-reduce; the digest
 * records how many chunks that took. A failure or timeout becomes a digest with the error, never a job failure.
 */
public final class SummarizeWindowFunction extends RichAsyncFunction<DigestWindow, Digest> {
    private static final long serialVersionUID = 1L;

    private final EngineSpec spec;
    private final TaskOptions options;
    private final long timeoutMs;

    private transient SharedEngines.Lease lease;
    private transient TaskRunner runner;
    private transient Clock clock;
    private transient Counter digests;
    private transient Counter errors;
    private transient Counter timeouts;

    /** @param timeoutMs a window not summarized by then gets a digest with an error // ms */
    public SummarizeWindowFunction(EngineSpec spec, TaskOptions options, long timeoutMs) {
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
        digests = group.counter("digests");
        errors = group.counter("errorDigests");
        timeouts = group.counter("timeouts");
    }

    /** The task-layer request that summarizes {@code window}. */
    TaskRequest request(DigestWindow window) {
        return TaskRequest.builder(window.requestId(), Task.SUMMARIZE, window.transcript)
                .maxNewTokens(options.cap(null))
                .metadata(Map.of("conversation_id", window.conversationId))
                .build();
    }

    @Override
    public void asyncInvoke(DigestWindow window, ResultFuture<Digest> resultFuture) {
        CompletableFuture<TaskResult> future;
        try {
            future = runner.run(request(window));
        } catch (RuntimeException e) {
            complete(resultFuture, failed(window, "could not submit: " + e, 0));
            return;
        }
        future.whenComplete((result, failure) -> complete(resultFuture, failure != null
                ? failed(window, "engine failure: " + failure, 0)
                : digest(window, result)));
    }

    @Override
    public void timeout(DigestWindow window, ResultFuture<Digest> resultFuture) {
        timeouts.inc();
        complete(resultFuture, failed(window, "timed out after " + timeoutMs + " ms (request timeout)", timeoutMs));
    }

    private void complete(ResultFuture<Digest> resultFuture, Digest digest) {
        digests.inc();
        if (digest.getError() != null) {
            errors.inc();
        }
        try {
            resultFuture.complete(List.of(digest)); // a second completion (after a timeout) is ignored
        } catch (RuntimeException e) {
            // The operator is closing (failover or cancel): the window is in the checkpoint and is re-submitted.
        }
    }

    private Digest.Builder base(DigestWindow window) {
        return Digest.newBuilder()
                .setConversationId(window.conversationId)
                .setWindowStart(java.time.Instant.ofEpochMilli(window.windowStart))
                .setWindowEnd(java.time.Instant.ofEpochMilli(window.windowEnd))
                .setRevision(window.revision)
                .setPart(window.part)
                .setParts(window.parts)
                .setMessageCount(window.messageIds.length)
                .setMessageIds(new ArrayList<>(List.of(window.messageIds)))
                .setCompletedAt(clock.instant());
    }

    Digest digest(DigestWindow window, TaskResult result) {
        boolean failed = result.finishReason() == null || result.isError()
                || result.finishReason() == io.inferstream.runtime.engine.FinishReason.CANCELLED
                || result.finishReason() == io.inferstream.runtime.engine.FinishReason.DEADLINE;
        String error = failed ? (result.error() == null ? "the task layer reported " + result.finishReason() + " without a reason"
                : result.error()) : null;
        return base(window)
                .setSummary(failed ? null : result.output())
                .setChunks(result.chunks())
                .setPromptTokens(result.promptTokens())
                .setCompletionTokens(result.completionTokens())
                .setQueueMs(Math.round(result.queueMs()))
                .setComputeMs(Math.round(result.computeMs()))
                .setModel(result.model() == null ? spec.modelName() : result.model())
                .setError(error)
                .build();
    }

    private Digest failed(DigestWindow window, String error, long queueMs) {
        return base(window)
                .setSummary(null)
                .setChunks(0)
                .setPromptTokens(0)
                .setCompletionTokens(0)
                .setQueueMs(queueMs)
                .setComputeMs(0L)
                .setModel(spec.modelName())
                .setError(error)
                .build();
    }

    @Override
    public void close() {
        if (lease != null) {
            lease.close();
            lease = null;
        }
    }
}
