package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.ContinuationScore;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CancellationException;

/**
 * One task in flight on the engine ({@link TaskRunner#start}): its result, and the engine calls it has started (label
 * scorings, summary chunks, sentence chunks), which end together. A task stops, and its calls with it, when:
 * <ul>
 *   <li>its timeout passes: every call carries the task's deadline, so the engine itself finishes them with
 *       DEADLINE at its next step, and a call the task would start after the deadline is not started;</li>
 *   <li>{@link #cancel} is called (the caller stopped waiting): the engine finishes them with CANCELLED;</li>
 *   <li>one call fails (ERROR, CANCELLED, DEADLINE): the others' answers could not be used, so they are cancelled.</li>
 * </ul>
 * Either way the engine frees their batch slots and KV blocks at once instead of computing answers nobody reads.
 * The first stop decides the task's finish reason and error.
 */
public final class RunningTask {

    private final Engine engine;
    private final TaskRequest request;
    private final long deadlineNanos;  // System.nanoTime(); Long.MAX_VALUE = none
    private final Duration timeout;    // null = none
    private final Set<String> calls = new HashSet<>(); // engine ids in flight; guarded by this
    private FinishReason stopReason;   // guarded by this; null while running
    private String stopMessage;
    private volatile CompletableFuture<TaskResult> result;

    RunningTask(Engine engine, TaskRequest request, long startNanos, Duration timeout) {
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("request " + (request == null ? null : request.id())
                    + ": the task timeout must be positive, got " + timeout);
        }
        this.engine = engine;
        this.request = request;
        this.timeout = timeout;
        this.deadlineNanos = timeout == null ? Long.MAX_VALUE : startNanos + timeout.toNanos();
    }

    /** The task's result; never completes exceptionally. */
    public CompletableFuture<TaskResult> result() {
        return result;
    }

    void setResult(CompletableFuture<TaskResult> result) {
        this.result = result;
    }

    /**
     * Stops the task: its engine calls finish with CANCELLED at the engine's next step, and the result (unless
     * already done) completes with CANCELLED and {@code reason}. Does nothing once the task has stopped or finished.
     */
    public void cancel(String reason) {
        stop(FinishReason.CANCELLED, reason);
    }

    /** Engine ids of the calls in flight. */
    synchronized List<String> callsInFlight() {
        return new ArrayList<>(calls);
    }

    /** Why the task stopped, or null while it runs. */
    synchronized FinishReason stopReason() {
        return stopReason;
    }

    synchronized String stopMessage() {
        return stopMessage;
    }

    /** One generation call under the task's deadline; fails at once when the task has stopped. */
    CompletableFuture<Completion> generate(Request.Builder call) {
        Request r = call.deadlineAt(deadlineNanos).build();
        synchronized (this) {
            // Under the lock: a cancel either sees this call among those to cancel, or this call sees the stop.
            String refused = refusal();
            if (refused != null) {
                return CompletableFuture.failedFuture(new CancellationException(refused));
            }
            calls.add(r.id());
            return engine.submit(r).thenApply(c -> {
                ended(c.requestId(), c.finishReason(), c.message(), c.finishReason() == FinishReason.ERROR
                        || c.finishReason() == FinishReason.CANCELLED || c.finishReason() == FinishReason.DEADLINE);
                return c;
            });
        }
    }

    /** One scoring call under the task's deadline; fails at once when the task has stopped. */
    CompletableFuture<ContinuationScore> score(String id, int[] prefix, int[] continuation) {
        synchronized (this) {
            String refused = refusal();
            if (refused != null) {
                return CompletableFuture.failedFuture(new CancellationException(refused));
            }
            calls.add(id);
            return engine.submitScore(id, prefix, continuation, 0, deadlineNanos).thenApply(s -> {
                ended(s.requestId(), s.finishReason(), s.message(), s.finishReason() != FinishReason.STOP);
                return s;
            });
        }
    }

    /** Why no new call may start (the task stopped, or its deadline passed), or null. Holding the lock. */
    private String refusal() {
        if (stopReason == null && System.nanoTime() > deadlineNanos) {
            stopReason = FinishReason.DEADLINE;
            stopMessage = timeoutMessage();
            cancelCalls();
        }
        return stopReason == null ? null : stopMessage;
    }

    private void ended(String id, FinishReason reason, String message, boolean failed) {
        synchronized (this) {
            calls.remove(id);
        }
        if (failed) {
            // The deadline is the task's: say so, rather than naming one internal call.
            stop(reason, reason == FinishReason.DEADLINE && timeout != null ? timeoutMessage() : message);
        }
    }

    private synchronized void stop(FinishReason reason, String message) {
        if (stopReason != null || (result != null && result.isDone())) {
            return;
        }
        stopReason = reason;
        stopMessage = message;
        cancelCalls();
    }

    private void cancelCalls() {
        for (String id : calls) {
            engine.cancel(id);
        }
    }

    private String timeoutMessage() {
        return "request " + request.id() + " (" + request.task() + ") did not finish within its timeout of "
                + timeout.toMillis() + " ms; its engine calls were stopped";
    }
}
