package io.inferstream.runtime.speculative;

/**
 * Guesses a sequence's next tokens from the sequence itself: the longest suffix of n tokens ({@code maxNgram} down to
 * {@code minNgram}) that occurred before, at its latest earlier occurrence, and the tokens that followed it there.
 * The match says the text repeats with a period (the distance between the two occurrences), so guesses that run past
 * the end of the sequence continue that period: a loop of one token guesses more of it, a repeated list its next
 * items. No model is involved; a scan costs O(length × n) integer comparisons, nothing beside a forward step.
 */
public final class PromptLookupProposer {

    /** No guesses. */
    public static final int[] NONE = new int[0];

    private PromptLookupProposer() {
    }

    /**
     * @param tokens   the sequence, valid up to {@code length}
     * @param maxDraft most tokens to propose
     * @return the proposed tokens (at most {@code maxDraft}), or {@link #NONE}
     */
    public static int[] propose(int[] tokens, int length, int minNgram, int maxNgram, int maxDraft) {
        if (maxDraft <= 0) {
            return NONE;
        }
        for (int n = Math.min(maxNgram, length - 1); n >= minNgram; n--) {
            int suffix = length - n;
            // Latest earlier occurrence: start at suffix - 1 so that at least one token follows the match.
            for (int i = suffix - 1; i >= 0; i--) {
                if (matches(tokens, i, suffix, n)) {
                    return continuation(tokens, length, suffix - i, maxDraft);
                }
            }
        }
        return NONE;
    }

    /** Positions length, length + 1, ... as the token one period earlier (a guess itself past the end). */
    private static int[] continuation(int[] tokens, int length, int period, int count) {
        int[] draft = new int[count];
        for (int j = 0; j < count; j++) {
            int source = length + j - period;
            draft[j] = source < length ? tokens[source] : draft[source - length];
        }
        return draft;
    }

    private static boolean matches(int[] tokens, int at, int suffix, int n) {
        for (int j = n - 1; j >= 0; j--) { // the last token differs most often: compare it first
            if (tokens[at + j] != tokens[suffix + j]) {
                return false;
            }
        }
        return true;
    }
}
