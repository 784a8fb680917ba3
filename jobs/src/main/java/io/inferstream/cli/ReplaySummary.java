package io.inferstream.cli;

import io.inferstream.runtime.bench.Percentiles;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a replay did, as a table: requests, results by task and finish reason, dead letters, token
 * throughput, latency percentiles and the mean batch size.
 *
 * @param requests    records produced into the requests topic
 * @param results     committed results read back
 * @param deadLetters committed dead letters read back
 * @param jobSeconds  wall time of the job, start to end // s
 */
public record ReplaySummary(int requests, List<InferenceResult> results, List<DeadLetter> deadLetters, double jobSeconds) {

    public long promptTokens() {
        return results.stream().mapToLong(InferenceResult::getPromptTokens).sum();
    }

    public long completionTokens() {
        return results.stream().mapToLong(InferenceResult::getCompletionTokens).sum();
    }

    /** Generated tokens per second of job wall time. */
    public double completionTokensPerSecond() {
        return jobSeconds <= 0 ? 0 : completionTokens() / jobSeconds;
    }

    /** p50, p95, p99 of queue + compute time // ms */
    public double[] latencyPercentiles() {
        double[] latency = results.stream().mapToDouble(r -> r.getQueueMs() + r.getComputeMs()).toArray();
        return Percentiles.of(latency, 50, 95, 99);
    }

    /** Mean batch size over the results that report one (0 = unknown, e.g. a request that failed before a step). */
    public double meanBatchSize() {
        return results.stream().mapToInt(InferenceResult::getBatchSize).filter(b -> b > 0).average().orElse(Double.NaN);
    }

    /** Result counts: task → finish reason → count. */
    public Map<Task, Map<FinishReason, Integer>> counts() {
        Map<Task, Map<FinishReason, Integer>> counts = new EnumMap<>(Task.class);
        for (Task t : Task.values()) {
            Map<FinishReason, Integer> row = new EnumMap<>(FinishReason.class);
            for (FinishReason f : FinishReason.values()) {
                row.put(f, 0);
            }
            counts.put(t, row);
        }
        for (InferenceResult r : results) {
            counts.get(r.getTask()).merge(r.getFinishReason(), 1, Integer::sum);
        }
        return counts;
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "requests      %6d%n", requests));
        sb.append(String.format(Locale.ROOT, "results       %6d%n", results.size()));
        sb.append(String.format(Locale.ROOT, "dead letters  %6d%n", deadLetters.size()));
        for (DeadLetter letter : deadLetters.subList(0, Math.min(5, deadLetters.size()))) {
            String where = letter.getRequestId() != null ? letter.getRequestId()
                    : letter.getSourceTopic() + "-" + letter.getSourcePartition() + "@" + letter.getSourceOffset();
            String reason = letter.getReason().length() > 120 ? letter.getReason().substring(0, 120) + "…" : letter.getReason();
            sb.append(String.format(Locale.ROOT, "  %s: %s%n", where, reason));
        }
        if (deadLetters.size() > 5) {
            sb.append(String.format(Locale.ROOT, "  … %d more in the dead-letter topic%n", deadLetters.size() - 5));
        }
        sb.append(String.format(Locale.ROOT, "%n%-10s", "task"));
        for (FinishReason f : FinishReason.values()) {
            sb.append(String.format(Locale.ROOT, " %9s", f.name()));
        }
        sb.append(String.format(Locale.ROOT, " %9s%n", "total"));
        int[] columnTotals = new int[FinishReason.values().length];
        for (Map.Entry<Task, Map<FinishReason, Integer>> row : counts().entrySet()) {
            sb.append(String.format(Locale.ROOT, "%-10s", row.getKey().name()));
            int total = 0;
            for (FinishReason f : FinishReason.values()) {
                int n = row.getValue().get(f);
                columnTotals[f.ordinal()] += n;
                total += n;
                sb.append(String.format(Locale.ROOT, " %9d", n));
            }
            sb.append(String.format(Locale.ROOT, " %9d%n", total));
        }
        sb.append(String.format(Locale.ROOT, "%-10s", "total"));
        for (int n : columnTotals) {
            sb.append(String.format(Locale.ROOT, " %9d", n));
        }
        sb.append(String.format(Locale.ROOT, " %9d%n%n", results.size()));
        double[] p = latencyPercentiles();
        sb.append(String.format(Locale.ROOT, "tokens        prompt %d, completion %d%n", promptTokens(), completionTokens()));
        sb.append(String.format(Locale.ROOT, "throughput    %.1f completion tokens/s over %.1f s of job time%n",
                completionTokensPerSecond(), jobSeconds));
        sb.append(String.format(Locale.ROOT, "latency (ms)  p50 %.0f, p95 %.0f, p99 %.0f (queue + compute)%n", p[0], p[1], p[2]));
        sb.append(String.format(Locale.ROOT, "batch size    %.1f mean of the most sequences in a model step with each request%n", meanBatchSize()));
        return sb.toString();
    }
}
