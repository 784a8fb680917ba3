import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * docs/img/gpu-decode-h200.png from docs/img/gpu-decode-h200.csv: the c = 64 CUDA-graph decode step's tokens/s of
 * each recorded H200 run against the issue-7 target (50 % of the HBM roofline: one step per 1.03 ms = 62.1 k tok/s).
 * java -cp xchart-3.8.8.jar deploy/gpu/PlotRuns.java docs/img/gpu-decode-h200.csv docs/img/gpu-decode-h200.png
 */
public class PlotRuns {
    public static void main(String[] args) throws Exception {
        List<String> runs = new ArrayList<>();
        List<Double> tokens = new ArrayList<>();
        List<Double> target = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[0])).subList(1, Files.readAllLines(Path.of(args[0])).size())) {
            String[] f = line.split(",");
            runs.add("run " + f[0]);
            tokens.add(Double.parseDouble(f[f.length - 1]));
            target.add(64 / 1.03e-3);
        }
        CategoryChart chart = new CategoryChartBuilder().width(900).height(480)
                .title("Llama-3.2-1B BF16 decode on an H200, 64 sequences (CUDA graph step)")
                .xAxisTitle("GPU run").yAxisTitle("tokens/s").build();
        chart.getStyler().setOverlapped(true);
        chart.addSeries("target: 50% of HBM roofline (1.03 ms/step)", runs, target);
        chart.addSeries("measured", runs, tokens);
        String out = args[1];
        BitmapEncoder.saveBitmap(chart, out.replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
    }
}
