package io.inferstream.jobs.digest;

import io.inferstream.jobs.infer.EngineSpec;
import io.inferstream.jobs.infer.SharedEngineAsyncFunction;
import io.inferstream.jobs.infer.SharedEngines;
import io.inferstream.jobs.infer.TaskOptions;
import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.schema.Digest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Summarizes a window's transcript on the TaskManager's shared engine (the same {@link SharedEngines} entry,
 * hence the same engine and batches, as the streaming job's inference operator for an equal
 * {@link EngineSpec}) with Flink async I/O ({@link SharedEngineAsyncFunction}). The transcript goes to the task
 * layer as a SUMMARIZE request, so a transcript longer than the context is summarized hierarchically by the task
 * layer's map-reduce; the digest records how many chunks that took. A failed request or a timeout becomes a
 * digest with the error, never a job failure; a failed engine fails the task instead, which restarts from its
 * checkpoint on a new engine.
 */
public final class SummarizeWindowFunction extends SharedEngineAsyncFunction<DigestWindow, Digest> {
    private static final long serialVersionUID = 1L;

    private final String instruction;

    /**
     * @param timeoutMs   a window not summarized by then gets a digest with an error // ms
     * @param instruction what the model is asked to do with a transcript ({@link DigestSummaryOptions})
     */
    public SummarizeWindowFunction(EngineSpec spec, TaskOptions options, long timeoutMs, String instruction) {
        super(spec, options, timeoutMs, "digests", "errorDigests");
        if (instruction == null || instruction.isBlank()) {
            throw new IllegalArgumentException("the digest instruction must not be blank");
        }
        this.instruction = instruction;
    }

    /** The task-layer request that summarizes {@code window}. */
    @Override
    protected TaskRequest toTask(DigestWindow window) {
        return TaskRequest.builder(window.requestId(), Task.SUMMARIZE, window.transcript)
                .instruction(instruction)
                .maxNewTokens(options().cap(null))
                .metadata(Map.of("conversation_id", window.conversationId))
                .build();
    }

    @Override
    protected boolean isError(Digest digest) {
        return digest.getError() != null;
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
                .setCompletedAt(clock().instant());
    }

    @Override
    protected Digest toOutput(DigestWindow window, TaskResult result) {
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
                .setModel(result.model() == null ? spec().modelName() : result.model())
                .setError(error)
                .build();
    }

    @Override
    protected Digest failed(DigestWindow window, Failure failure, String error, long queueMs) {
        return base(window)
                .setSummary(null)
                .setChunks(0)
                .setPromptTokens(0)
                .setCompletionTokens(0)
                .setQueueMs(queueMs)
                .setComputeMs(0L)
                .setModel(spec().modelName())
                .setError(error)
                .build();
    }
}
