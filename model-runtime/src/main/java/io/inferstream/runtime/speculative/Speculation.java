package io.inferstream.runtime.speculative;

/**
 * Prompt-lookup speculative decoding's settings (vLLM's {@code ngram} method).
 *
 * @param tokens       most guessed tokens run after a sequence's next token in one step; 0 turns speculation off
 * @param minNgram     shortest run of the sequence's last tokens that must match earlier in it
 * @param maxNgram     longest run tried first (a longer match predicts better)
 * @param maxSequences speculate only while at most this many sequences are running: a guess that fails costs a
 *                     token's compute, which a full batch has none of to spare
 */
public record Speculation(int tokens, int minNgram, int maxNgram, int maxSequences) implements java.io.Serializable {

    public static final int DEFAULT_MIN_NGRAM = 2;
    public static final int DEFAULT_MAX_NGRAM = 4;
    public static final int DEFAULT_MAX_SEQUENCES = 4;

    /** No speculation. */
    public static final Speculation OFF = new Speculation(0, DEFAULT_MIN_NGRAM, DEFAULT_MAX_NGRAM, DEFAULT_MAX_SEQUENCES);

    public Speculation {
        if (tokens < 0) {
            throw new IllegalArgumentException("--speculative-tokens must be 0 (off) or more, got " + tokens);
        }
        if (minNgram < 1 || maxNgram < minNgram) {
            throw new IllegalArgumentException("prompt lookup needs 1 <= --prompt-lookup-min <= --prompt-lookup-max, got "
                    + minNgram + " and " + maxNgram);
        }
        if (maxSequences < 1) {
            throw new IllegalArgumentException("--speculative-max-sequences must be at least 1, got " + maxSequences);
        }
    }

    /** {@code n} guessed tokens per step with the default lookup settings. */
    public static Speculation ofTokens(int n) {
        return new Speculation(n, DEFAULT_MIN_NGRAM, DEFAULT_MAX_NGRAM, DEFAULT_MAX_SEQUENCES);
    }

    public boolean enabled() {
        return tokens > 0;
    }

    /**
     * The guesses for a sequence of which {@code length} tokens are known, at most {@code room} of them (the room left
     * before its token limit) and at most what its {@code budget} allows, while {@code running} sequences share the
     * step; empty when speculation is off, finds nothing, or the budget says to skip this step.
     */
    public int[] propose(int[] sequence, int length, int room, int running, DraftBudget budget) {
        if (!enabled() || running > maxSequences || room <= 0) {
            return PromptLookupProposer.NONE;
        }
        int most = Math.min(Math.min(tokens, room), budget.limit());
        int[] draft = PromptLookupProposer.propose(sequence, length, minNgram, maxNgram, most);
        return draft.length > 0 && budget.take() ? draft : PromptLookupProposer.NONE;
    }

    /** A new sequence's budget: the most guesses at first. */
    public DraftBudget newBudget() {
        return new DraftBudget(tokens);
    }

    @Override
    public String toString() {
        return enabled() ? "prompt lookup, " + tokens + " tokens, n-grams " + minNgram + ".." + maxNgram
                + ", up to " + maxSequences + " sequences" : "off";
    }
}
