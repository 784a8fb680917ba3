package io.inferstream.runtime.eval;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;

/**
 * Draws a {@link ReliabilityDiagram} as a PNG bar chart with XChart: per confidence bin, the accuracy
 * beside the mean confidence (a perfectly calibrated model has equal bars), the ECE in the title.
 * Rendering is headless ({@code java.awt.headless=true}), so it runs on servers and in CI.
 */
public final class ReliabilityDiagramChart {

    static {
        // Before any AWT class initialises: no display on build machines or TaskManagers.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    public static final int DEFAULT_WIDTH = 800;   // px
    public static final int DEFAULT_HEIGHT = 600;  // px

    private final int width;
    private final int height;

    public ReliabilityDiagramChart() {
        this(DEFAULT_WIDTH, DEFAULT_HEIGHT);
    }

    public ReliabilityDiagramChart(int width, int height) {
        if (width < 100 || height < 100) {
            throw new IllegalArgumentException("chart size " + width + "x" + height + " is too small, expected at least 100x100 px");
        }
        this.width = width;
        this.height = height;
    }

    public CategoryChart chart(ReliabilityDiagram diagram, String title) {
        CategoryChart chart = new CategoryChartBuilder()
                .width(width).height(height)
                .title(String.format(Locale.ROOT, "%s (ECE %.4f, N = %d)", title,
                        diagram.expectedCalibrationError(), diagram.total()))
                .xAxisTitle("confidence bin")
                .yAxisTitle("fraction")
                .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(1.0);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setXAxisLabelRotation(45);

        List<String> categories = new ArrayList<>();
        List<Double> accuracy = new ArrayList<>();
        List<Double> confidence = new ArrayList<>();
        for (CalibrationBin bin : diagram.bins()) {
            categories.add(String.format(Locale.ROOT, "%.2f-%.2f (%d)", bin.lower(), bin.upper(), bin.count()));
            accuracy.add(bin.accuracy());
            confidence.add(bin.meanConfidence());
        }
        CategorySeries acc = chart.addSeries("accuracy", categories, accuracy);
        acc.setFillColor(new Color(0x1f, 0x77, 0xb4));
        CategorySeries conf = chart.addSeries("mean confidence", categories, confidence);
        conf.setFillColor(new Color(0xff, 0x7f, 0x0e));
        return chart;
    }

    public byte[] pngBytes(ReliabilityDiagram diagram, String title) throws IOException {
        return BitmapEncoder.getBitmapBytes(chart(diagram, title), BitmapEncoder.BitmapFormat.PNG);
    }

    /** Writes the PNG to exactly {@code file} (XChart's own saver would append ".png"). */
    public void writePng(ReliabilityDiagram diagram, String title, Path file) throws IOException {
        byte[] png = pngBytes(diagram, title);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(png);
        }
    }
}
