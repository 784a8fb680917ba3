package io.inferstream.jobs.cluster;

import java.time.Instant;

/**
 * One entry of a job's exception history on the cluster: when a task (or the job) failed, and the stack trace Flink
 * kept. A streaming job that fails restarts, so a job can be RUNNING with failures behind it.
 */
public record JobFailure(long timestampMillis, String stackTrace) {
    private static final int MAX_LINE = 500;

    public Instant time() {
        return Instant.ofEpochMilli(timestampMillis);
    }

    /**
     * One line: the exception, and its root cause where that is another whose message the exception does not already
     * include. Flink wraps a failure in its own exceptions
     * (e.g. "Global failure triggered by OperatorCoordinator for 'Source: …'"), so the message that says what to fix is
     * often the last "Caused by".
     */
    public String summary() {
        StackTraceText trace = new StackTraceText(stackTrace);
        String first = trace.firstLine().isEmpty() ? "(no stack trace)" : trace.firstLine();
        String root = trace.rootCauseLine();
        int colon = root.indexOf(": ");
        boolean said = colon > 0 && first.contains(root.substring(colon + 2)); // the first line already has its message
        return root.isEmpty() || root.equals(first) || said ? cut(first) : cut(first) + " (root cause: " + cut(root) + ")";
    }

    private static String cut(String line) {
        return line.length() <= MAX_LINE ? line : line.substring(0, MAX_LINE - 1) + "…";
    }
}
