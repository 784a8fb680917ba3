package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Calibration of a classifier's confidence: equal-width bins over [0, 1] of the confidence (the
 * probability of the predicted label, i.e. the maximum probability), each with its count, mean
 * confidence and accuracy — the data of a reliability diagram — and the expected calibration error
 * ECE = Σ_b (n_b / N) · |acc_b − conf_b| (Guo et al. 2017; 10 bins by default).
 *
 * <p>Bin b of B holds confidences in (b/B, (b+1)/B]; confidence exactly 0 goes to the first bin. The
 * boundaries are computed as b / (double) B, so a confidence written 0.3 lies in (0.2, 0.3].
 */
public final class ReliabilityDiagram {

    public static final int DEFAULT_BINS = 10;

    private final List<CalibrationBin> bins;
    private final int total;

    private ReliabilityDiagram(List<CalibrationBin> bins, int total) {
        this.bins = Collections.unmodifiableList(bins);
        this.total = total;
    }

    public static ReliabilityDiagram of(double[] confidences, boolean[] correct) {
        return of(confidences, correct, DEFAULT_BINS);
    }

    /** confidences[i] ∈ [0, 1] is the model's probability for its prediction i, correct[i] whether it was right. */
    public static ReliabilityDiagram of(double[] confidences, boolean[] correct, int binCount) {
        if (binCount < 1) {
            throw new IllegalArgumentException("a reliability diagram needs at least 1 bin, got " + binCount);
        }
        if (confidences.length != correct.length) {
            throw new IllegalArgumentException("confidences and correctness flags differ in length: "
                    + confidences.length + " vs " + correct.length);
        }
        int[] counts = new int[binCount];
        double[] confidenceSums = new double[binCount];
        int[] correctCounts = new int[binCount];
        for (int i = 0; i < confidences.length; i++) {
            double c = confidences[i];
            if (!(c >= 0.0 && c <= 1.0)) {
                throw new IllegalArgumentException("confidence at position " + i + " is " + c + ", expected a value in [0, 1]");
            }
            int b = binOf(c, binCount);
            counts[b]++;
            confidenceSums[b] += c;
            if (correct[i]) {
                correctCounts[b]++;
            }
        }
        List<CalibrationBin> bins = new ArrayList<>(binCount);
        for (int b = 0; b < binCount; b++) {
            int n = counts[b];
            bins.add(new CalibrationBin((double) b / binCount, (double) (b + 1) / binCount, n,
                    n == 0 ? 0.0 : confidenceSums[b] / n,
                    n == 0 ? 0.0 : (double) correctCounts[b] / n));
        }
        return new ReliabilityDiagram(bins, confidences.length);
    }

    /**
     * From per-example label distributions: the prediction is the arg-max label (ties go to the label
     * first in the map's iteration order), its probability the confidence, and it is correct when it is
     * the gold label.
     */
    public static ReliabilityDiagram fromProbabilities(List<Map<String, Double>> probabilities, List<String> gold, int binCount) {
        if (probabilities.size() != gold.size()) {
            throw new IllegalArgumentException("probabilities and gold labels differ in length: "
                    + probabilities.size() + " vs " + gold.size());
        }
        double[] confidences = new double[gold.size()];
        boolean[] correct = new boolean[gold.size()];
        for (int i = 0; i < gold.size(); i++) {
            Map<String, Double> distribution = probabilities.get(i);
            if (distribution.isEmpty()) {
                throw new IllegalArgumentException("label distribution at position " + i + " is empty");
            }
            Map.Entry<String, Double> best = ClassificationEvaluation.argMax(distribution);
            confidences[i] = best.getValue();
            correct[i] = best.getKey().equals(gold.get(i));
        }
        return of(confidences, correct, binCount);
    }

    /** (b/B, (b+1)/B] with boundaries b / (double) B; 0 in bin 0. */
    static int binOf(double confidence, int binCount) {
        int b = (int) Math.ceil(confidence * binCount) - 1;
        b = Math.max(0, Math.min(binCount - 1, b));
        // Correct the rounding of confidence * B against the exact boundaries b / B.
        while (b > 0 && confidence <= (double) b / binCount) {
            b--;
        }
        while (b < binCount - 1 && confidence > (double) (b + 1) / binCount) {
            b++;
        }
        return b;
    }

    public List<CalibrationBin> bins() {
        return bins;
    }

    public int total() {
        return total;
    }

    /** Σ (n_b / N) · |acc_b − conf_b|; 0 for no predictions. */
    public double expectedCalibrationError() {
        if (total == 0) {
            return 0.0;
        }
        double ece = 0;
        for (CalibrationBin bin : bins) {
            ece += (double) bin.count() / total * bin.gap();
        }
        return ece;
    }

    /** max_b |acc_b − conf_b| over non-empty bins: the maximum calibration error. */
    public double maximumCalibrationError() {
        double mce = 0;
        for (CalibrationBin bin : bins) {
            if (bin.count() > 0) {
                mce = Math.max(mce, bin.gap());
            }
        }
        return mce;
    }
}
