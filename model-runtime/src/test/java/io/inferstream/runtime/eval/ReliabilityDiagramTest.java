package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ReliabilityDiagramTest {

    private static final double EPS = 1e-12;

    @Test
    void perfectlyCalibratedBinsHaveZeroError() {
        // 10 predictions at confidence 0.8 with 8 correct, 5 at 0.6 with 3 correct:
        // each bin's accuracy equals its confidence -> every gap is 0 -> ECE = 0.
        double[] conf = new double[15];
        boolean[] correct = new boolean[15];
        for (int i = 0; i < 10; i++) {
            conf[i] = 0.8;
            correct[i] = i < 8;
        }
        for (int i = 10; i < 15; i++) {
            conf[i] = 0.6;
            correct[i] = i < 13;
        }
        ReliabilityDiagram d = ReliabilityDiagram.of(conf, correct);
        assertEquals(0.0, d.expectedCalibrationError(), EPS);
        CalibrationBin bin = d.bins().get(7);          // (0.7, 0.8]
        assertEquals(10, bin.count());
        assertEquals(0.8, bin.meanConfidence(), EPS);
        assertEquals(0.8, bin.accuracy(), EPS);
        assertEquals(5, d.bins().get(5).count());      // (0.5, 0.6]
    }

    @Test
    void confidentAndAlwaysWrongGivesItsConfidenceAsError() {
        // 4 predictions at 0.9, all wrong: one bin, accuracy 0, confidence 0.9 -> ECE = 4/4 * 0.9.
        ReliabilityDiagram d = ReliabilityDiagram.of(new double[] {0.9, 0.9, 0.9, 0.9}, new boolean[4]);
        assertEquals(0.9, d.expectedCalibrationError(), EPS);
        // Certain and wrong: ECE = 1.
        assertEquals(1.0, ReliabilityDiagram.of(new double[] {1.0, 1.0}, new boolean[2]).expectedCalibrationError(), EPS);
    }

    @Test
    void mixedBinsWeighTheirGapsByCount() {
        // Bin (0.9, 1.0]: 0.95 ok, 0.95 ok, 1.0 wrong -> conf 2.9/3, acc 2/3, gap 0.3.
        // Bin (0.5, 0.6]: 0.55 wrong, 0.6 wrong -> conf 0.575, acc 0, gap 0.575.
        // ECE = 3/5 * 0.3 + 2/5 * 0.575 = 0.18 + 0.23 = 0.41. MCE = 0.575.
        ReliabilityDiagram d = ReliabilityDiagram.of(
                new double[] {0.95, 0.95, 1.0, 0.55, 0.6},
                new boolean[] {true, true, false, false, false});
        assertEquals(0.41, d.expectedCalibrationError(), 1e-12);
        assertEquals(0.575, d.maximumCalibrationError(), 1e-12);
        assertEquals(3, d.bins().get(9).count());
        assertEquals(2.9 / 3, d.bins().get(9).meanConfidence(), EPS);
        assertEquals(2.0 / 3, d.bins().get(9).accuracy(), EPS);
        assertEquals(0, d.bins().get(0).count());
        assertEquals(0.0, d.bins().get(0).meanConfidence(), EPS);
    }

    @Test
    void binsAreLeftOpenRightClosed() {
        // (b/10, (b+1)/10]: 0.3 belongs to (0.2, 0.3], though 0.3 * 10 rounds to 3.0000000000000004;
        // 0.7 * 10 = 7.000000000000001 but 0.7 belongs to (0.6, 0.7]; 0 goes to the first bin.
        assertEquals(2, ReliabilityDiagram.binOf(0.3, 10));
        assertEquals(6, ReliabilityDiagram.binOf(0.7, 10));
        assertEquals(3, ReliabilityDiagram.binOf(0.30000001, 10));
        assertEquals(0, ReliabilityDiagram.binOf(0.1, 10));
        assertEquals(0, ReliabilityDiagram.binOf(0.0, 10));
        assertEquals(9, ReliabilityDiagram.binOf(1.0, 10));
        assertEquals(0, ReliabilityDiagram.binOf(0.5, 2));
        assertEquals(1, ReliabilityDiagram.binOf(0.51, 2));
        assertEquals(0.2, ReliabilityDiagram.of(new double[0], new boolean[0], 5).bins().get(0).upper(), EPS);
    }

    @Test
    void probabilitiesGiveArgMaxPredictionsAndMaxProbabilityConfidence() {
        Map<String, Double> first = new LinkedHashMap<>();
        first.put("positive", 0.7);
        first.put("negative", 0.2);
        first.put("neutral", 0.1);
        Map<String, Double> second = new LinkedHashMap<>();
        second.put("positive", 0.4);
        second.put("negative", 0.6);
        // First: predicts positive (0.7), gold positive -> correct, bin (0.6, 0.7], gap 0.3.
        // Second: predicts negative (0.6), gold positive -> wrong, bin (0.5, 0.6], gap 0.6.
        // ECE = 1/2 * 0.3 + 1/2 * 0.6 = 0.45.
        ReliabilityDiagram d = ReliabilityDiagram.fromProbabilities(List.of(first, second), List.of("positive", "positive"), 10);
        assertEquals(0.45, d.expectedCalibrationError(), 1e-12);
        assertEquals(1.0, d.bins().get(6).accuracy(), EPS);
        assertEquals(0.0, d.bins().get(5).accuracy(), EPS);
    }

    @Test
    void rejectsConfidencesOutsideTheUnitInterval() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ReliabilityDiagram.of(new double[] {0.5, 1.2}, new boolean[2]));
        assertEquals("confidence at position 1 is 1.2, expected a value in [0, 1]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ReliabilityDiagram.of(new double[] {Double.NaN}, new boolean[1]));
        assertThrows(IllegalArgumentException.class, () -> ReliabilityDiagram.of(new double[1], new boolean[2]));
        assertThrows(IllegalArgumentException.class, () -> ReliabilityDiagram.of(new double[1], new boolean[1], 0));
    }

    @Test
    void noPredictionsHaveZeroError() {
        assertEquals(0.0, ReliabilityDiagram.of(new double[0], new boolean[0]).expectedCalibrationError(), EPS);
    }
}
