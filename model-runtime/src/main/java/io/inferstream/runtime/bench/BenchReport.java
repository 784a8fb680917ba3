package io.inferstream.runtime.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders benchmark results: a text table, a CSV file and a PNG bar chart. With a {@link ComputeCeiling} (CPU
 * runs) each mode also gets the FLOP/s it sustained and its share of the measured FMA peak.
 */
public final class BenchReport {

    private final String title;
    private final List<BenchResult> results;
    private final ComputeCeiling ceiling; // null: not measured (GPU runs)

    public BenchReport(String title, List<BenchResult> results) {
        this(title, results, null);
    }

    public BenchReport(String title, List<BenchResult> results, ComputeCeiling ceiling) {
        this.title = title;
        this.results = List.copyOf(results);
        this.ceiling = ceiling;
    }

    /** The one-at-a-time run (the baseline), or null when it was not run. */
    private BenchResult baselineResult() {
        return results.stream().filter(r -> r.mode() == BenchMode.ONE_AT_A_TIME).findFirst().orElse(null);
    }

    /** Output throughput of the baseline, or NaN when it was not run. */
    private double baseline() {
        BenchResult one = baselineResult();
        return one == null ? Double.NaN : one.outputTokensPerSecond();
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(title).append('\n');
        sb.append(String.format(Locale.ROOT, "| %-14s | %8s | %9s | %9s | %10s | %26s | %26s | %6s | %8s | %6s | %10s | %10s |",
                "mode", "requests", "wall s", "out tok/s", "total tok/s", "TTFT ms p50/p95/p99", "per-token ms p50/p95/p99",
                "batch", "vs one", "steps", "forward ms", "engine ms"));
        if (ceiling != null) {
            sb.append(String.format(Locale.ROOT, " %8s | %6s |", "GFLOP/s", "peak"));
        }
        sb.append('\n');
        sb.append("|").append("-".repeat(16)).append("|").append("-".repeat(10)).append("|").append("-".repeat(11))
                .append("|").append("-".repeat(11)).append("|").append("-".repeat(13)).append("|").append("-".repeat(28))
                .append("|").append("-".repeat(28)).append("|").append("-".repeat(8)).append("|").append("-".repeat(10)).append("|")
                .append("-".repeat(8)).append("|").append("-".repeat(12)).append("|").append("-".repeat(12)).append("|");
        if (ceiling != null) {
            sb.append("-".repeat(10)).append("|").append("-".repeat(8)).append("|");
        }
        sb.append('\n');
        double base = baseline();
        for (BenchResult r : results) {
            sb.append(String.format(Locale.ROOT, "| %-14s | %8d | %9.1f | %9.1f | %11.1f | %26s | %26s | %6.1f | %7.2fx | %6d | %10.3f | %10.3f |",
                    r.mode().label, r.requests(), r.wallSeconds(), r.outputTokensPerSecond(), r.totalTokensPerSecond(),
                    triple(r.ttftMillis()), triple(r.perTokenMillis()), r.meanBatchSize(), r.outputTokensPerSecond() / base,
                    r.steps(), r.forwardMillisPerStep(), r.engineMillisPerStep()));
            if (ceiling != null) {
                sb.append(String.format(Locale.ROOT, " %8.1f | %5.1f%% |", ceiling.achievedFlops(r) / 1e9, 100 * ceiling.shareOfPeak(r)));
            }
            sb.append('\n');
        }
        sb.append("forward ms / engine ms: mean time per step inside the model's forward / outside it (scheduling, batch "
                + "building, sampling, bookkeeping)\n");
        if (ceiling != null) {
            sb.append(ceiling.describe(baselineResult())).append('\n');
        }
        return sb.toString();
    }

    private static String triple(double[] p) {
        return String.format(Locale.ROOT, "%.0f / %.0f / %.0f", p[0], p[1], p[2]);
    }

    public void writeCsv(Path file) {
        List<String> lines = new ArrayList<>();
        lines.add("mode,requests,prompt_tokens,output_tokens,wall_s,output_tok_s,total_tok_s,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,"
                + "tpot_p50_ms,tpot_p95_ms,tpot_p99_ms,mean_batch,speedup_vs_one,gflop_s,share_of_fma_peak,max_speedup_vs_one,"
                + "steps,forward_ms_per_step,engine_ms_per_step");
        double base = baseline();
        BenchResult one = baselineResult();
        for (BenchResult r : results) {
            // the compute columns stay empty where no ceiling was measured (GPU runs)
            String compute = ",,,";
            if (ceiling != null) {
                compute = String.format(Locale.ROOT, ",%.2f,%.4f,%s", ceiling.achievedFlops(r) / 1e9, ceiling.shareOfPeak(r),
                        one == null ? "" : String.format(Locale.ROOT, "%.3f", ceiling.maxSpeedupOver(one)));
            }
            lines.add(String.format(Locale.ROOT, "%s,%d,%d,%d,%.3f,%.2f,%.2f,%.1f,%.1f,%.1f,%.2f,%.2f,%.2f,%.2f,%.3f",
                    r.mode().label, r.requests(), r.promptTokens(), r.outputTokens(), r.wallSeconds(),
                    r.outputTokensPerSecond(), r.totalTokensPerSecond(),
                    r.ttftMillis()[0], r.ttftMillis()[1], r.ttftMillis()[2],
                    r.perTokenMillis()[0], r.perTokenMillis()[1], r.perTokenMillis()[2],
                    r.meanBatchSize(), r.outputTokensPerSecond() / base) + compute
                    + String.format(Locale.ROOT, ",%d,%.4f,%.4f", r.steps(), r.forwardMillisPerStep(), r.engineMillisPerStep()));
        }
        try {
            Files.write(file, lines);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Bar chart of output throughput per mode; with a {@link ComputeCeiling}, one more bar: the throughput the
     * workload would have at 100% of the FMA peak, the most any mode could reach on this machine.
     */
    public void writePng(Path file) {
        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(1100).height(500).title(title)
                .xAxisTitle("mode").yAxisTitle("output tokens / s").build();
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setDecimalPattern("#,##0.0");
        List<String> labels = new ArrayList<>(results.stream().map(r -> r.mode().label).toList());
        List<Number> measured = new ArrayList<>(results.stream().map(r -> (Number) r.outputTokensPerSecond()).toList());
        if (ceiling == null || results.isEmpty()) {
            chart.getStyler().setLegendVisible(false);
            chart.addSeries("throughput", labels, measured);
        } else {
            // two series over the same categories, overlapped, so the ceiling bar gets its own colour
            chart.getStyler().setOverlapped(true);
            String label = "100% of FMA peak";
            labels.add(label);
            measured.add(null); // no bar, no label
            List<Number> bound = new ArrayList<>();
            results.forEach(r -> bound.add(null));
            bound.add(results.get(0).outputTokens() / ceiling.floorSeconds());
            chart.addSeries("measured", labels, measured);
            chart.addSeries(String.format(Locale.ROOT, "compute ceiling (%.0f GFLOP/s)", ceiling.peakFlops() / 1e9), labels, bound);
        }
        try {
            String name = file.toString();
            String base = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
            BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
