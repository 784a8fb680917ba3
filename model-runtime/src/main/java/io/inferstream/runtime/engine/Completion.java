package io.inferstream.runtime.engine;

/**
 * The result of one generation request.
 *
 * @param requestId          the request's id
 * @param text               generated text (stop string cut off; empty when the engine has no tokenizer)
 * @param tokens             generated token ids (an end-of-generation token that stopped it is included)
 * @param finishReason       why it stopped
 * @param message            for ERROR (and CANCELLED/DEADLINE), what happened; otherwise empty
 * @param promptTokens       prompt length in tokens
 * @param cachedPromptTokens prompt tokens served from the prefix cache (at the last admission)
 * @param queueMillis        arrival → first scheduled // ms
 * @param computeMillis      first scheduled → finished // ms
 * @param firstTokenMillis   arrival → first generated token // ms (NaN when none was generated)
 * @param maxBatchSize       most sequences in one step this request ran in
 * @param meanBatchSize      mean sequences per step over the steps it ran in
 * @param preemptions        times it was preempted and recomputed
 * @param logprobs           log-probability of each generated token when asked for, else null
 */
public record Completion(
        String requestId,
        String text,
        int[] tokens,
        FinishReason finishReason,
        String message,
        int promptTokens,
        int cachedPromptTokens,
        double queueMillis,
        double computeMillis,
        double firstTokenMillis,
        int maxBatchSize,
        double meanBatchSize,
        int preemptions,
        float[] logprobs) {

    public int generatedTokens() {
        return tokens.length;
    }

    /** Mean time per generated token after the first // ms (NaN with fewer than two tokens). */
    public double perTokenMillis() {
        if (tokens.length < 2) {
            return Double.NaN;
        }
        double total = queueMillis + computeMillis;
        return (total - firstTokenMillis) / (tokens.length - 1);
    }
}
