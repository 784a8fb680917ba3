package io.inferstream.runtime.bench;

/** How the synthetic workload is fed to the engine. */
public enum BenchMode {
    /** One request at a time: submit, wait for it, submit the next. */
    ONE_AT_A_TIME("one-at-a-time"),
    /** Static batches: submit N, wait until all N are done (each waits for the longest), repeat. */
    STATIC_BATCH("static-batch"),
    /** Continuous batching: keep N requests in flight, submitting a new one as soon as one finishes. */
    CONTINUOUS("continuous");

    public final String label;

    BenchMode(String label) {
        this.label = label;
    }
}
