package io.inferstream.runtime.eval;

/**
 * One confidence bin of a reliability diagram: the predictions whose confidence lies in
 * (lower, upper] (the first bin also takes confidence 0), how many there were, their mean confidence and
 * the fraction of them that were correct. Mean confidence and accuracy are 0 for an empty bin.
 */
public record CalibrationBin(double lower, double upper, int count, double meanConfidence, double accuracy) {

    /** |accuracy − mean confidence|: this bin's calibration gap. */
    public double gap() {
        return Math.abs(accuracy - meanConfidence);
    }
}
