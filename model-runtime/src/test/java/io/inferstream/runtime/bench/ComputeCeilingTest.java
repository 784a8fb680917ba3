package io.inferstream.runtime.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ComputeCeilingTest {

    private static BenchResult run(BenchMode mode, double wallSeconds) {
        return new BenchResult(mode, 64, 8192, 4096, wallSeconds, new double[3], new double[3], 1, 0, 0, 0);
    }

    @Test
    void floorIsTheWorkAtThePeakAndBoundsEverySpeedUp() {
        // 3 TFLOP at 150 GFLOP/s: no mode faster than 20 s, so a 100 s baseline allows at most 5x
        ComputeCeiling c = new ComputeCeiling(new WorkloadFlops(2.9e12, 0.1e12), 150e9, 2);
        assertEquals(20.0, c.floorSeconds(), 1e-9);
        BenchResult one = run(BenchMode.ONE_AT_A_TIME, 100);
        BenchResult continuous = run(BenchMode.CONTINUOUS, 30);
        assertEquals(5.0, c.maxSpeedupOver(one), 1e-9);
        assertEquals(100e9, c.achievedFlops(continuous), 1e-3);
        assertEquals(2.0 / 3, c.shareOfPeak(continuous), 1e-12);
        assertEquals(0.2, c.shareOfPeak(one), 1e-12);
        String line = c.describe(one);
        assertTrue(line.contains("3.00 TFLOP of work (2.90 TFLOP in weight matrices, 0.10 TFLOP in attention)") && line.contains("150.0 GFLOP/s on 2 threads")
                && line.contains("less than 20.0 s") && line.contains("at most 5.00x the one-at-a-time run's 100 s"), line);
        assertTrue(new ComputeCeiling(new WorkloadFlops(2e9, 0.5e9), 150e9, 1).describe(null)
                .startsWith("compute floor: 2.50 GFLOP of work (2.00 GFLOP in weight matrices, 0.50 GFLOP in attention)"));
    }
}
