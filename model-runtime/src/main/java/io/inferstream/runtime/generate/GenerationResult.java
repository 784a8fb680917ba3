package io.inferstream.runtime.generate;

/**
 * The outcome of one single-request generation.
 *
 * @param tokens                  generated ids, in order (an end-of-generation token that stopped it included)
 * @param text                    the generated text, stop string cut off
 * @param finishReason            STOP or LENGTH
 * @param promptTokens            prompt length in tokens
 * @param logprobs                log-probability of each generated token under the distribution it was drawn from
 *                                (empty for beam search, which scores whole hypotheses)
 * @param prefillTokensPerSecond  prompt tokens / prefill wall time
 * @param decodeTokensPerSecond   tokens after the first / their wall time (0 when there were none)
 * @param draftTokens             tokens guessed by speculative decoding and run through the model
 * @param acceptedDraftTokens     of those, kept
 */
public record GenerationResult(
        int[] tokens,
        String text,
        FinishReason finishReason,
        int promptTokens,
        float[] logprobs,
        double prefillTokensPerSecond,
        double decodeTokensPerSecond,
        int draftTokens,
        int acceptedDraftTokens) {

    /** Without speculative decoding. */
    public GenerationResult(int[] tokens, String text, FinishReason finishReason, int promptTokens, float[] logprobs,
                            double prefillTokensPerSecond, double decodeTokensPerSecond) {
        this(tokens, text, finishReason, promptTokens, logprobs, prefillTokensPerSecond, decodeTokensPerSecond, 0, 0);
    }

    public int completionTokens() {
        return tokens.length;
    }
}
