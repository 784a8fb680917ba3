package io.inferstream.jobs;

import org.apache.flink.runtime.operators.coordination.TaskNotRunningException;

/**
 * A local Flink job that failed, said by its root cause. Flink wraps a task's failure in three of its own ("Job
 * failed", "Job execution failed", "Recovery is suppressed"): the deepest cause is what says what to fix (a model that
 * does not load, a device that is not there), so a command prints this message in one line rather than the stack.
 */
public final class JobFailedException extends IllegalStateException {
    /** {@code what} (e.g. "batch job over 'x'") failed with {@code failure}, Flink's exception or one wrapping it. */
    public JobFailedException(String what, Throwable failure) {
        super(what + " failed: " + rootCause(failure) + (rootCause(failure) instanceof TaskNotRunningException
                ? " (a race in Flink: a task failed, and a source's event to it failed the job first; the task's own "
                + "reason is in the TaskManager's log: a local run prints it above)" : ""), failure);
    }

    static Throwable rootCause(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }
}
