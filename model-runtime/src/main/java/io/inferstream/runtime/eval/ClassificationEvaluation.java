package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Accumulates classified examples (gold label, predicted label, the predicted label's probability) and
 * reports {@code accuracy}, {@code macro_f1} (see {@link ConfusionMatrix} for the convention) and
 * {@code ece} (expected calibration error over {@link ReliabilityDiagram#DEFAULT_BINS} bins), with the
 * confusion matrix and reliability diagram behind them.
 */
public final class ClassificationEvaluation {

    private final int bins;
    private final List<String> gold = new ArrayList<>();
    private final List<String> predicted = new ArrayList<>();
    private final List<Double> confidences = new ArrayList<>();

    public ClassificationEvaluation() {
        this(ReliabilityDiagram.DEFAULT_BINS);
    }

    public ClassificationEvaluation(int bins) {
        this.bins = bins;
    }

    /** @param confidence the probability the classifier gave its predicted label, in [0, 1] */
    public void add(String goldLabel, String predictedLabel, double confidence) {
        gold.add(goldLabel);
        predicted.add(predictedLabel);
        confidences.add(confidence);
    }

    /** From a label distribution: the prediction is its arg-max (first in iteration order on ties). */
    public void add(String goldLabel, Map<String, Double> probabilities) {
        if (probabilities.isEmpty()) {
            throw new IllegalArgumentException("empty label distribution for an example with gold label '" + goldLabel + "'");
        }
        Map.Entry<String, Double> best = argMax(probabilities);
        add(goldLabel, best.getKey(), best.getValue());
    }

    /** The most probable label and its probability; the first in iteration order wins a tie. */
    static Map.Entry<String, Double> argMax(Map<String, Double> probabilities) {
        Map.Entry<String, Double> best = null;
        for (Map.Entry<String, Double> e : probabilities.entrySet()) {
            if (best == null || e.getValue() > best.getValue()) {
                best = e;
            }
        }
        return best;
    }

    public ConfusionMatrix confusionMatrix() {
        return ConfusionMatrix.of(gold, predicted);
    }

    public ReliabilityDiagram reliabilityDiagram() {
        double[] conf = new double[confidences.size()];
        boolean[] correct = new boolean[confidences.size()];
        for (int i = 0; i < conf.length; i++) {
            conf[i] = confidences.get(i);
            correct[i] = gold.get(i).equals(predicted.get(i));
        }
        return ReliabilityDiagram.of(conf, correct, bins);
    }

    public Map<String, Double> metrics() {
        ConfusionMatrix matrix = confusionMatrix();
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("accuracy", matrix.accuracy());
        m.put("macro_f1", matrix.macroF1());
        m.put("ece", reliabilityDiagram().expectedCalibrationError());
        return m;
    }

    /** The task's report entry, with token counts and wall time measured by the caller. */
    public TaskEvaluation toTaskEvaluation(String task, String dataset, long promptTokens, long generatedTokens,
                                           double elapsedSeconds) {
        return TaskEvaluation.classification(task, dataset, metrics(), confusionMatrix(), reliabilityDiagram(),
                promptTokens, generatedTokens, elapsedSeconds);
    }
}
