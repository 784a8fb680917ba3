package io.inferstream.runtime.engine;

/**
 * Log-probabilities of a given continuation after a prefix: {@code logprobs[i] = log p(c_i | prefix, c_0..c_{i-1})}.
 *
 * @param requestId    the scoring request's id
 * @param logprobs     [continuation length] natural-log probabilities; empty unless finishReason is STOP
 * @param finishReason STOP when scored; CANCELLED, DEADLINE or ERROR otherwise
 * @param message      why it failed, else empty
 * @param cachedTokens tokens of the prefix served from the prefix cache
 * @param maxBatchSize most sequences in one step this scoring ran in (0 when it never ran a step)
 */
public record ContinuationScore(String requestId, float[] logprobs, FinishReason finishReason, String message, int cachedTokens,
        int maxBatchSize) {

    /** log p(continuation | prefix) // nats */
    public double sum() {
        double s = 0;
        for (float lp : logprobs) {
            s += lp;
        }
        return s;
    }
}
