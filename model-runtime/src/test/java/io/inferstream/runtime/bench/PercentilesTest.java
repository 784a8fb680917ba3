package io.inferstream.runtime.bench;

import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class PercentilesTest {

    @Test
    void nearestRankPercentilesOfOneToHundredAreTheRanksThemselves() {
        double[] shuffled = IntStream.rangeClosed(1, 100).map(i -> (i * 37) % 100 + 1).asDoubleStream().toArray();
        assertArrayEquals(new double[] {50, 95, 99, 100}, Percentiles.of(shuffled, 50, 95, 99, 100));
    }

    @Test
    void nanValuesAreIgnoredAndAnEmptySampleGivesNan() {
        assertArrayEquals(new double[] {2, 3}, Percentiles.of(new double[] {Double.NaN, 3, 1, 2}, 50, 99));
        assertTrue(Double.isNaN(Percentiles.of(new double[] {Double.NaN}, 50)[0]));
    }
}
