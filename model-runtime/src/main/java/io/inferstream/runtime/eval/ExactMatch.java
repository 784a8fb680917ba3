package io.inferstream.runtime.eval;

/** Exact match of a prediction against a reference answer: 1.0 or 0.0. */
public final class ExactMatch {

    private ExactMatch() {
    }

    /** SQuAD's {@code compute_exact}: equal after {@link SquadNormalization}. */
    public static double score(String prediction, String reference) {
        return score(prediction, reference, true);
    }

    /** With {@code normalize} false the strings must be identical, character for character. */
    public static double score(String prediction, String reference, boolean normalize) {
        if (normalize) {
            return SquadNormalization.normalize(prediction).equals(SquadNormalization.normalize(reference)) ? 1.0 : 0.0;
        }
        return prediction.equals(reference) ? 1.0 : 0.0;
    }
}
