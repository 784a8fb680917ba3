package io.inferstream.jobs.cluster;

import io.inferstream.jobs.StreamingInferenceJob;
import picocli.CommandLine;

/**
 * The entry class of the streaming job on a cluster ({@code /jars/:id/run}, application mode).
 * The program's main runs inside the JobManager there, so it must not call {@code System.exit}
 * (that would stop the JobManager): it parses the same flags as {@code inferstream stream} and
 * reports a non-zero exit code as an exception, which the cluster returns to the submitter.
 */
public final class StreamingJobEntry {
    private StreamingJobEntry() {
    }

    public static void main(String[] args) {
        int code = new CommandLine(new StreamingInferenceJob()).execute(args);
        if (code != 0) {
            throw new IllegalStateException("the streaming job's command line ended with exit code " + code
                    + " (see the JobManager log for its message)");
        }
    }
}
