package io.inferstream.jobs.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.inferstream.jobs.infer.EngineMetricGauges;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a running job's engines run, read from their gauges ({@link EngineMetricGauges#DEVICE} and
 * {@link EngineMetricGauges#DEVICE_CHOICE}) through the REST API: on a cluster {@code --device} is resolved in each
 * TaskManager, so this is how the person who submitted the job learns whether {@code auto} found a GPU.
 */
public final class EngineDevices {
    private static final Pattern ID = Pattern.compile("(\\d+)\\.(.+)\\." + EngineMetricGauges.GROUP + "\\.("
            + EngineMetricGauges.DEVICE + "|" + EngineMetricGauges.DEVICE_CHOICE + ")");

    private static final Pattern DOWNLOAD = Pattern.compile("(\\d+)\\.(.+)\\." + EngineMetricGauges.GROUP + "\\."
            + EngineMetricGauges.MODEL_DOWNLOAD);

    private EngineDevices() {
    }

    /**
     * The model downloads that a starting job's operators wait for on their TaskManagers, one line per operator and
     * subtask, e.g. "inference subtask 0: downloading its model: 0.5 of 1.1 MiB (44%), 3.2 MiB/s"; empty when none.
     */
    public static List<String> downloads(FlinkRestClient client, String jobId) throws IOException {
        List<String> lines = new ArrayList<>();
        for (JsonNode vertex : client.job(jobId).path("vertices")) {
            lines.addAll(downloadLines(client.vertexMetrics(jobId, vertex.path("id").asText(),
                    id -> DOWNLOAD.matcher(id).matches())));
        }
        return lines;
    }

    /** The download lines of one vertex's gauges (ids as {@link FlinkRestClient#vertexMetrics} gives them). */
    static List<String> downloadLines(Map<String, String> metrics) {
        Map<String, Map<Integer, String>> byOperator = new TreeMap<>();
        metrics.forEach((id, value) -> {
            Matcher m = DOWNLOAD.matcher(id);
            if (m.matches() && !value.isBlank()) {
                byOperator.computeIfAbsent(m.group(2), o -> new TreeMap<>()).put(Integer.parseInt(m.group(1)), value);
            }
        });
        List<String> lines = new ArrayList<>();
        byOperator.forEach((operator, subtasks) -> subtasks.forEach((subtask, value) ->
                lines.add(operator + " subtask " + subtask + ": downloading its model: " + value)));
        return lines;
    }

    /**
     * One line per operator and device, e.g. "cuda:0 (NVIDIA H200, compute 9.0) in inference subtasks 0,1 of 2
     * (--device auto: 1 CUDA device(s); using the CUDA backend on cuda:0)", once every subtask of each operator with
     * an engine has said its device; what has been said when {@code wait} runs out (empty when nothing). The
     * subtasks report separately (each loads its model, and the cluster's metric fetcher gathers gauges every 10 s
     * by default), so the first answer may name only some of them.
     */
    public static List<String> read(FlinkRestClient client, String jobId, Duration wait)
            throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(wait);
        while (true) {
            List<String> lines = new ArrayList<>();
            boolean complete = true;
            for (JsonNode vertex : client.job(jobId).path("vertices")) {
                Map<String, String> metrics = client.vertexMetrics(jobId, vertex.path("id").asText(),
                        id -> ID.matcher(id).matches());
                int parallelism = vertex.path("parallelism").asInt();
                lines.addAll(lines(metrics, parallelism));
                complete &= allReported(metrics, parallelism);
            }
            if ((complete && !lines.isEmpty()) || !Instant.now().isBefore(deadline)) {
                return lines;
            }
            Thread.sleep(500);
        }
    }

    /** Whether every subtask of each operator with an engine among {@code metrics} has said its device. */
    static boolean allReported(Map<String, String> metrics, int parallelism) {
        Map<String, TreeSet<Integer>> reported = new TreeMap<>(); // operator -> subtasks that said their device
        metrics.forEach((id, value) -> {
            Matcher m = ID.matcher(id);
            if (m.matches()) {
                TreeSet<Integer> subtasks = reported.computeIfAbsent(m.group(2), o -> new TreeSet<>());
                if (m.group(3).equals(EngineMetricGauges.DEVICE)) {
                    subtasks.add(Integer.parseInt(m.group(1)));
                }
            }
        });
        return reported.values().stream().allMatch(subtasks -> subtasks.size() == parallelism);
    }

    /** The lines of one vertex's gauges (ids as {@link FlinkRestClient#vertexMetrics} gives them). */
    static List<String> lines(Map<String, String> metrics, int parallelism) {
        Map<String, Map<Integer, Engine>> byOperator = new LinkedHashMap<>(); // operator -> subtask -> its engine
        metrics.forEach((id, value) -> {
            Matcher m = ID.matcher(id);
            if (m.matches()) {
                Map<Integer, Engine> subtasks = byOperator.computeIfAbsent(m.group(2), o -> new TreeMap<>());
                Engine e = subtasks.getOrDefault(Integer.parseInt(m.group(1)), new Engine("?", ""));
                subtasks.put(Integer.parseInt(m.group(1)), m.group(3).equals(EngineMetricGauges.DEVICE)
                        ? new Engine(value, e.choice()) : new Engine(e.device(), value));
            }
        });
        List<String> lines = new ArrayList<>();
        byOperator.forEach((operator, subtasks) -> {
            Map<Engine, TreeSet<Integer>> byEngine = new LinkedHashMap<>();
            subtasks.forEach((subtask, engine) -> byEngine.computeIfAbsent(engine, k -> new TreeSet<>()).add(subtask));
            byEngine.forEach((engine, which) -> lines.add(engine.device() + " in " + operator + " subtask"
                    + (which.size() == 1 ? " " : "s ") + join(which) + " of " + parallelism
                    + (engine.choice().isEmpty() ? "" : " (" + engine.choice() + ")")));
        });
        return lines;
    }

    private record Engine(String device, String choice) {
    }

    private static String join(TreeSet<Integer> subtasks) {
        StringBuilder s = new StringBuilder();
        subtasks.forEach(i -> s.append(s.length() == 0 ? "" : ",").append(i));
        return s.toString();
    }
}
