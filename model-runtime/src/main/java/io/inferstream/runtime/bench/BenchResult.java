package io.inferstream.runtime.bench;

/**
 * One mode's measurements.
 *
 * @param mode              how requests were fed
 * @param requests          completed requests
 * @param promptTokens      prompt tokens of all requests
 * @param outputTokens      generated tokens of all requests
 * @param wallSeconds       first submission → last completion // s
 * @param ttftMillis        time to first token p50, p95, p99 // ms
 * @param perTokenMillis    time per output token after the first, p50, p95, p99 // ms
 * @param meanBatchSize     mean sequences per step the requests ran in
 * @param steps             engine steps the mode ran
 * @param forwardMillisPerStep mean time per step inside the model's forward // ms
 * @param engineMillisPerStep  mean time per step outside it: scheduling, batch building, sampling, bookkeeping (on a
 *                             GPU, time the device waits for the host unless hidden) // ms
 */
public record BenchResult(BenchMode mode, int requests, long promptTokens, long outputTokens, double wallSeconds,
                          double[] ttftMillis, double[] perTokenMillis, double meanBatchSize, long steps,
                          double forwardMillisPerStep, double engineMillisPerStep) {

    /** Generated tokens per second of wall time. */
    public double outputTokensPerSecond() {
        return outputTokens / wallSeconds;
    }

    /** Prompt and generated tokens per second of wall time. */
    public double totalTokensPerSecond() {
        return (promptTokens + outputTokens) / wallSeconds;
    }
}
