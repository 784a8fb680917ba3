package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The per-task accumulators that turn predictions into report metrics. */
class TaskEvaluationsTest {

    private static final double EPS = 1e-12;

    @Test
    void generationMetricsAreMeansOfPerExampleScores() {
        GenerationEvaluation eval = GenerationEvaluation.forLanguage("en");
        eval.add("the cat sat on the mat", "on the mat the cat sat");
        eval.add("the cat", "");
        Map<String, Double> m = eval.metrics();
        assertEquals(2, eval.examples());
        // Pair 1 (see RougeScorerTest): R1 1, R2 0.8, RL 0.5, RLsum (one sentence each) = RL = 0.5.
        // Pair 2: empty prediction -> 0 everywhere.
        assertEquals(0.5, m.get("rouge1_f"), EPS);
        assertEquals(0.4, m.get("rouge2_f"), EPS);
        assertEquals(0.25, m.get("rougeL_f"), EPS);
        assertEquals(0.25, m.get("rougeLsum_f"), EPS);
        // Token F1: pair 1 normalises to {cat, sat, on, mat} on both sides -> 1; pair 2 -> 0. Mean 0.5.
        assertEquals(0.5, m.get("token_f1"), EPS);
        assertEquals(0.0, m.get("exact_match"), EPS);
        assertEquals(List.of("rouge1_f", "rouge2_f", "rougeL_f", "rougeLsum_f", "token_f1", "exact_match"),
                List.copyOf(m.keySet()));
    }

    @Test
    void chineseReferencesAreScoredByCharacter() {
        GenerationEvaluation eval = GenerationEvaluation.forLanguage("zh");
        eval.add("猫坐在垫子上", "猫在垫子上坐");
        Map<String, Double> m = eval.metrics();
        // Characters: same multiset -> R1 1, token F1 1; bigrams 3 of 5 -> 0.6; LCS 5 of 6.
        assertEquals(1.0, m.get("rouge1_f"), EPS);
        assertEquals(0.6, m.get("rouge2_f"), EPS);
        assertEquals(5.0 / 6.0, m.get("rougeL_f"), EPS);
        assertEquals(1.0, m.get("token_f1"), EPS);
        assertEquals(0.0, m.get("exact_match"), EPS);
    }

    @Test
    void noExamplesGiveZeroMetrics() {
        assertEquals(0.0, GenerationEvaluation.forLanguage(null).metrics().get("rouge1_f"), EPS);
    }

    @Test
    void classificationMetricsComeFromConfusionMatrixAndCalibration() {
        ClassificationEvaluation eval = new ClassificationEvaluation();
        String[] gold = {"a", "a", "a", "b", "b", "c"};
        String[] predicted = {"a", "a", "b", "b", "c", "c"};
        for (int i = 0; i < gold.length; i++) {
            eval.add(gold[i], predicted[i], 0.9);
        }
        Map<String, Double> m = eval.metrics();
        assertEquals(4.0 / 6.0, m.get("accuracy"), EPS);
        assertEquals((0.8 + 0.5 + 2.0 / 3.0) / 3.0, m.get("macro_f1"), EPS);
        // All six in bin (0.8, 0.9]: confidence 0.9, accuracy 4/6 -> ECE = |2/3 - 0.9| = 0.2333...
        assertEquals(0.9 - 2.0 / 3.0, m.get("ece"), 1e-12);
        TaskEvaluation task = eval.toTaskEvaluation("CLASSIFY", "eval/classification.jsonl", 60, 0, 2.0);
        assertEquals(6, task.examples());
        assertEquals(1, task.confusionMatrix().get("a").get("b"));
        assertEquals(6, task.calibrationBins().get(8).count());
    }

    @Test
    void classificationFromDistributionsTakesTheArgMax() {
        ClassificationEvaluation eval = new ClassificationEvaluation();
        Map<String, Double> p = new LinkedHashMap<>();
        p.put("billing", 0.25);
        p.put("shipping", 0.55);
        p.put("technical", 0.2);
        eval.add("shipping", p);
        eval.add("billing", p);
        // Both predict shipping at 0.55: one right, one wrong -> accuracy 0.5; bin (0.5, 0.6] has
        // confidence 0.55 and accuracy 0.5 -> ECE 0.05.
        assertEquals(0.5, eval.metrics().get("accuracy"), EPS);
        assertEquals(0.05, eval.metrics().get("ece"), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> eval.add("billing", Map.of()));
    }
}
