package io.inferstream.runtime.bench;

import java.util.Locale;

/**
 * What the CPU allows a workload at most: its floating-point work against the FMA peak measured in the same
 * run ({@code tensor.FmaPeak}). Every mode does the same work, so none can finish faster than
 * {@link #floorSeconds()}, and no mode can beat another by more than the other's time over that floor. The
 * bench prints this beside its ratios, so a target such as "continuous ≥ 4× one-at-a-time" can be checked
 * against what the hardware permits, not only against what was measured.
 *
 * @param work      FLOP of the workload
 * @param peakFlops FMA throughput of all kernel threads together // FLOP/s
 * @param threads   kernel threads the peak was measured on
 */
public record ComputeCeiling(WorkloadFlops work, double peakFlops, int threads) {

    /** Shortest possible wall time of any mode: the work at 100% of the FMA peak, nothing else costing. // s */
    public double floorSeconds() {
        return work.total() / peakFlops;
    }

    /** Work done per second of the mode's wall time. // FLOP/s */
    public double achievedFlops(BenchResult r) {
        return work.total() / r.wallSeconds();
    }

    /** Fraction of the FMA peak the mode sustained over its whole run. */
    public double shareOfPeak(BenchResult r) {
        return achievedFlops(r) / peakFlops;
    }

    /** The largest speed-up any mode could have over {@code baseline}: its wall time over the floor. */
    public double maxSpeedupOver(BenchResult baseline) {
        return baseline.wallSeconds() / floorSeconds();
    }

    /** One line for the report. */
    public String describe(BenchResult baseline) {
        String s = String.format(Locale.ROOT, "compute floor: %s of work (%s in weight matrices, %s in attention); "
                        + "FMA peak measured in this run %.1f GFLOP/s on %d thread%s, so no mode can take less than %.3g s",
                flop(work.total(), work.total()), flop(work.matmulFlops(), work.total()),
                flop(work.attentionFlops(), work.total()), peakFlops / 1e9, threads,
                threads == 1 ? "" : "s", floorSeconds());
        if (baseline != null) {
            s += String.format(Locale.ROOT, ": at most %.2fx the %s run's %.3g s", maxSpeedupOver(baseline),
                    baseline.mode().label, baseline.wallSeconds());
        }
        return s;
    }

    /** f in the unit (TFLOP, GFLOP or MFLOP) that suits {@code scale}, so the parts of a total read alike. */
    private static String flop(double f, double scale) {
        return scale >= 1e12 ? String.format(Locale.ROOT, "%.2f TFLOP", f / 1e12)
                : scale >= 1e9 ? String.format(Locale.ROOT, "%.2f GFLOP", f / 1e9)
                : String.format(Locale.ROOT, "%.2f MFLOP", f / 1e6);
    }
}
