package io.inferstream.runtime.eval;

/**
 * One ROUGE score: precision (matches / candidate units), recall (matches / reference units) and
 * their harmonic mean; each in [0, 1].
 */
public record RougeScore(double precision, double recall, double fmeasure) {

    public static final RougeScore ZERO = new RougeScore(0, 0, 0);

    /** rouge_score's {@code scoring.fmeasure}: 0 when precision + recall is 0. */
    public static RougeScore of(double precision, double recall) {
        double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
        return new RougeScore(precision, recall, f);
    }
}
