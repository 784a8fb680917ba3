package io.inferstream.runtime.engine;

/**
 * A snapshot of the engine's counters, taken after a step ({@link Engine#metrics()}, or pushed to a
 * listener). Counters are totals since the engine started; rates are over the time spent in steps.
 *
 * @param running                 sequences holding KV blocks
 * @param waiting                 sequences queued (new or preempted)
 * @param steps                   forward steps run
 * @param promptTokensComputed    prompt tokens run through the model (cache hits excluded, recomputation after preemption included)
 * @param generatedTokens         tokens sampled
 * @param promptTokensPerSecond   prompt tokens computed per second of step time
 * @param generatedTokensPerSecond tokens sampled per second of step time
 * @param lastStepMillis          duration of the latest step // ms
 * @param meanStepMillis          mean step duration // ms
 * @param stepSeconds             time spent in steps // s
 * @param forwardSeconds          of which inside the model's forward (the rest is the engine's own work: scheduling,
 *                                building the step's batch, sampling, bookkeeping) // s
 * @param batchSizeHistogram      [maxSequences + 1] steps by number of sequences in the step
 * @param kvBlocksUsed            referenced KV blocks
 * @param kvBlocksFree            unreferenced KV blocks (cached ones included)
 * @param prefixQueriedTokens     prompt tokens looked up in the prefix cache
 * @param prefixHitTokens         of those, found
 * @param prefixQueriedBlocks     full blocks looked up
 * @param prefixHitBlocks         of those, found
 * @param preemptions             sequences preempted to free blocks
 * @param finished                requests and scorings completed (any reason)
 * @param cancelled               of those, ended by {@link Engine#cancel} or {@link Engine#shutdownNow} (CANCELLED)
 * @param deadlineExceeded        of those, ended because their deadline passed (DEADLINE)
 * @param draftTokens             tokens guessed and run after a decode token (speculative decoding)
 * @param acceptedDraftTokens     of those, kept: each saved a forward step of its sequence
 */
public record EngineMetrics(
        int running,
        int waiting,
        long steps,
        long promptTokensComputed,
        long generatedTokens,
        double promptTokensPerSecond,
        double generatedTokensPerSecond,
        double lastStepMillis,
        double meanStepMillis,
        double stepSeconds,
        double forwardSeconds,
        long[] batchSizeHistogram,
        int kvBlocksUsed,
        int kvBlocksFree,
        long prefixQueriedTokens,
        long prefixHitTokens,
        long prefixQueriedBlocks,
        long prefixHitBlocks,
        long preemptions,
        long finished,
        long cancelled,
        long deadlineExceeded,
        long draftTokens,
        long acceptedDraftTokens) {

    /** Fraction of guessed tokens kept (0 when none were guessed). */
    public double draftAcceptanceRate() {
        return draftTokens == 0 ? 0 : (double) acceptedDraftTokens / draftTokens;
    }

    /** Fraction of looked-up prompt tokens found in the prefix cache (0 when none were looked up). */
    public double prefixHitRate() {
        return prefixQueriedTokens == 0 ? 0 : (double) prefixHitTokens / prefixQueriedTokens;
    }

    /** Mean time per step outside the model's forward: what the engine adds to each step. // ms */
    public double engineMillisPerStep() {
        return steps == 0 ? 0 : (stepSeconds - forwardSeconds) * 1e3 / steps;
    }

    /** Mean sequences per step. */
    public double meanBatchSize() {
        long steps = 0;
        long seqs = 0;
        for (int b = 0; b < batchSizeHistogram.length; b++) {
            steps += batchSizeHistogram[b];
            seqs += (long) b * batchSizeHistogram[b];
        }
        return steps == 0 ? 0 : (double) seqs / steps;
    }
}
