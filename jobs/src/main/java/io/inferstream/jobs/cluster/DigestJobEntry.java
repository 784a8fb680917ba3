package io.inferstream.jobs.cluster;

import io.inferstream.jobs.digest.DigestJob;

/**
 * The entry class of the digest job on a cluster: the flags of {@code inferstream digest}, run by
 * {@link JobManagerMain} (no {@code System.exit}; what goes wrong comes back to the submitter).
 */
public final class DigestJobEntry {
    private DigestJobEntry() {
    }

    public static void main(String[] args) throws Exception {
        JobManagerMain.run(new DigestJob(), args);
    }
}
