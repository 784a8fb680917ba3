import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * A grouped bar chart for docs/ from a CSV of {@code category,series,value} rows (header first): one group of bars per
 * category, one colour per series, in the order they first appear.
 * java -cp xchart-3.8.8.jar deploy/bench/PlotBars.java IN.csv OUT.png "title" "y axis" [width in pixels, 900]
 */
public class PlotBars {
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        List<String> categories = new ArrayList<>();
        Map<String, Map<String, Double>> series = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            if (!categories.contains(f[0])) {
                categories.add(f[0]);
            }
            series.computeIfAbsent(f[1], k -> new LinkedHashMap<>()).put(f[0], Double.parseDouble(f[2]));
        }
        CategoryChart chart = new CategoryChartBuilder().width(args.length > 4 ? Integer.parseInt(args[4]) : 900).height(480).title(args[2])
                .xAxisTitle("").yAxisTitle(args[3]).build();
        chart.getStyler().setLabelsVisible(true);
        for (var s : series.entrySet()) {
            List<Double> values = new ArrayList<>();
            for (String c : categories) {
                values.add(s.getValue().getOrDefault(c, 0.0));
            }
            chart.addSeries(s.getKey(), categories, values);
        }
        BitmapEncoder.saveBitmap(chart, args[1].replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
    }
}
