package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Counts of (gold label, predicted label) pairs over a set of classified examples, with the scores that
 * follow from them: accuracy, per-class precision / recall / F1, and macro-F1.
 *
 * <p>Convention (scikit-learn's {@code f1_score(average="macro")} with default labels and
 * {@code zero_division=0}): the classes are those in gold ∪ predicted; a class's precision is 0 when it
 * was never predicted, its recall 0 when it never occurs in gold, its F1 0 when precision + recall is 0;
 * macro-F1 is the unweighted mean of the per-class F1 values. A label the model was offered but that
 * neither occurs in gold nor was predicted does not count.
 */
public final class ConfusionMatrix {

    private final List<String> labels;                // sorted gold ∪ predicted
    private final Map<String, Integer> index;
    private final int[][] counts;                     // [gold, predicted]
    private final int total;

    private ConfusionMatrix(List<String> labels, int[][] counts, int total) {
        this.labels = Collections.unmodifiableList(labels);
        this.index = new HashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.put(labels.get(i), i);
        }
        this.counts = counts;
        this.total = total;
    }

    /** Builds the matrix from parallel lists: gold.get(i) is the true label of the example predicted as predicted.get(i). */
    public static ConfusionMatrix of(List<String> gold, List<String> predicted) {
        if (gold.size() != predicted.size()) {
            throw new IllegalArgumentException("gold and predicted label lists differ in length: "
                    + gold.size() + " gold vs " + predicted.size() + " predicted");
        }
        TreeSet<String> classes = new TreeSet<>();
        for (int i = 0; i < gold.size(); i++) {
            classes.add(requireLabel(gold.get(i), "gold", i));
            classes.add(requireLabel(predicted.get(i), "predicted", i));
        }
        List<String> labels = new ArrayList<>(classes);
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.put(labels.get(i), i);
        }
        int[][] counts = new int[labels.size()][labels.size()];
        for (int i = 0; i < gold.size(); i++) {
            counts[index.get(gold.get(i))][index.get(predicted.get(i))]++;
        }
        return new ConfusionMatrix(labels, counts, gold.size());
    }

    private static String requireLabel(String label, String side, int position) {
        if (label == null) {
            throw new IllegalArgumentException(side + " label at position " + position + " is null");
        }
        return label;
    }

    /** The classes, sorted: gold ∪ predicted. */
    public List<String> labels() {
        return labels;
    }

    public int total() {
        return total;
    }

    /** How many examples of class {@code gold} were predicted as {@code predicted}. */
    public int count(String gold, String predicted) {
        Integer g = index.get(gold);
        Integer p = index.get(predicted);
        return g == null || p == null ? 0 : counts[g][p];
    }

    /** The fraction of examples whose predicted label is the gold label; 0 for no examples. */
    public double accuracy() {
        if (total == 0) {
            return 0.0;
        }
        int correct = 0;
        for (int i = 0; i < labels.size(); i++) {
            correct += counts[i][i];
        }
        return (double) correct / total;
    }

    public double precision(String label) {
        int k = classIndex(label);
        int predicted = 0;
        for (int g = 0; g < labels.size(); g++) {
            predicted += counts[g][k];
        }
        return predicted == 0 ? 0.0 : (double) counts[k][k] / predicted;
    }

    public double recall(String label) {
        int k = classIndex(label);
        int gold = 0;
        for (int p = 0; p < labels.size(); p++) {
            gold += counts[k][p];
        }
        return gold == 0 ? 0.0 : (double) counts[k][k] / gold;
    }

    public double f1(String label) {
        double p = precision(label);
        double r = recall(label);
        return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
    }

    /** Unweighted mean of per-class F1 over gold ∪ predicted; 0 for no examples. */
    public double macroF1() {
        if (labels.isEmpty()) {
            return 0.0;
        }
        double sum = 0;
        for (String label : labels) {
            sum += f1(label);
        }
        return sum / labels.size();
    }

    private int classIndex(String label) {
        Integer k = index.get(label);
        if (k == null) {
            throw new IllegalArgumentException("label '" + label + "' is in neither gold nor predicted labels " + labels);
        }
        return k;
    }

    /** The counts as gold → (predicted → count), for reports. */
    public Map<String, Map<String, Integer>> asMap() {
        Map<String, Map<String, Integer>> map = new LinkedHashMap<>();
        for (int g = 0; g < labels.size(); g++) {
            Map<String, Integer> row = new LinkedHashMap<>();
            for (int p = 0; p < labels.size(); p++) {
                row.put(labels.get(p), counts[g][p]);
            }
            map.put(labels.get(g), row);
        }
        return map;
    }
}
