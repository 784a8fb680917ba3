package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

class ConfusionMatrixTest {

    private static final double EPS = 1e-12;

    @Test
    void countsAccuracyAndMacroF1OnASmallMatrix() {
        ConfusionMatrix m = ConfusionMatrix.of(
                List.of("a", "a", "a", "b", "b", "c"),
                List.of("a", "a", "b", "b", "c", "c"));
        //            predicted a  b  c
        // gold a               2  1  0
        // gold b               0  1  1
        // gold c               0  0  1
        assertEquals(List.of("a", "b", "c"), m.labels());
        assertEquals(2, m.count("a", "a"));
        assertEquals(1, m.count("a", "b"));
        assertEquals(1, m.count("b", "c"));
        assertEquals(0, m.count("c", "a"));
        // Diagonal 2 + 1 + 1 = 4 of 6.
        assertEquals(4.0 / 6.0, m.accuracy(), EPS);
        // a: P = 2/2, R = 2/3 -> F = 2 (2/3) / (5/3) = 0.8
        assertEquals(1.0, m.precision("a"), EPS);
        assertEquals(2.0 / 3.0, m.recall("a"), EPS);
        assertEquals(0.8, m.f1("a"), EPS);
        // b: P = 1/2 (column b: 1 + 1), R = 1/2 -> F = 0.5
        assertEquals(0.5, m.f1("b"), EPS);
        // c: P = 1/2 (column c: 1 + 1), R = 1/1 -> F = 2 * 0.5 / 1.5 = 2/3
        assertEquals(2.0 / 3.0, m.f1("c"), EPS);
        // macro = (0.8 + 0.5 + 2/3) / 3 = 0.6555...
        assertEquals((0.8 + 0.5 + 2.0 / 3.0) / 3.0, m.macroF1(), EPS);
    }

    @Test
    void aClassOnlyPredictedCountsInTheMacroAverageWithF1Zero() {
        // Classes = gold ∪ predicted = {x, y}. x: P = 1/1, R = 1/2 -> F = 2/3; y: never gold, predicted once
        // wrongly -> P = 0/1, R undefined -> 0, F = 0. Macro = (2/3 + 0) / 2 = 1/3.
        ConfusionMatrix m = ConfusionMatrix.of(List.of("x", "x"), List.of("x", "y"));
        assertEquals(List.of("x", "y"), m.labels());
        assertEquals(0.5, m.accuracy(), EPS);
        assertEquals(0.0, m.f1("y"), EPS);
        assertEquals(1.0 / 3.0, m.macroF1(), EPS);
    }

    @Test
    void perfectPredictionsScoreOne() {
        ConfusionMatrix m = ConfusionMatrix.of(List.of("pos", "neg", "neutral"), List.of("pos", "neg", "neutral"));
        assertEquals(1.0, m.accuracy(), EPS);
        assertEquals(1.0, m.macroF1(), EPS);
    }

    @Test
    void noExamplesScoreZeroAndMismatchedListsAreRejected() {
        ConfusionMatrix empty = ConfusionMatrix.of(List.of(), List.of());
        assertEquals(0.0, empty.accuracy(), EPS);
        assertEquals(0.0, empty.macroF1(), EPS);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfusionMatrix.of(List.of("a"), List.of("a", "b")));
        assertEquals("gold and predicted label lists differ in length: 1 gold vs 2 predicted", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ConfusionMatrix.of(List.of("a"), List.of("a")).f1("zzz"));
    }
}
