package io.inferstream.jobs.cluster;

import io.inferstream.jobs.StreamingInferenceJob;

/**
 * The entry class of the streaming job on a cluster: the flags of {@code inferstream stream}, run by
 * {@link JobManagerMain} (no {@code System.exit}; what goes wrong comes back to the submitter).
 */
public final class StreamingJobEntry {
    private StreamingJobEntry() {
    }

    public static void main(String[] args) throws Exception {
        JobManagerMain.run(new StreamingInferenceJob(), args);
    }
}
