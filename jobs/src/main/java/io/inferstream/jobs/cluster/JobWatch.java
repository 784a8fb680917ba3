package io.inferstream.jobs.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.inferstream.jobs.HumanDuration;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Follows a submitted job through the REST API until it has started or ended.
 *
 * <p>A job's state alone does not say that it works: Flink calls a job RUNNING as soon as it is scheduled, and a
 * streaming job whose task fails (a model that does not load, {@code --device cuda} on a TaskManager without a GPU,
 * a Kafka topic that does not exist) goes RUNNING → RESTARTING → RUNNING for as long as its restart strategy allows,
 * which by default is forever. Started here means: the job is RUNNING, every task is RUNNING or FINISHED (a task is
 * INITIALIZING until its operators are open, so ours have loaded their model) and nothing has failed since it was
 * submitted.
 */
public final class JobWatch {
    private static final Duration POLL = Duration.ofMillis(250);
    /** How often a starting job's download gauges are read (the cluster gathers them every 10 s by default). */
    private static final Duration DOWNLOAD_POLL = Duration.ofSeconds(2);

    /** How waiting for a job to start ended. */
    public enum Start {
        /** Every task runs and nothing failed. */
        STARTED,
        /** A task (or the job) failed first: a streaming job then restarts, and may fail again. */
        FAILED,
        /** The job ended first (FINISHED, FAILED or CANCELED). */
        ENDED,
        /** The limit passed first, with tasks still waiting for a slot, deploying or loading. */
        TIMED_OUT
    }

    /**
     * Where a watch ended.
     *
     * @param start    how
     * @param state    the job's state at the end
     * @param failures the job's failures, newest first (empty when started)
     * @param tasks    tasks by execution state at the end, e.g. {RUNNING=2}
     */
    public record Outcome(Start start, String state, List<JobFailure> failures, Map<String, Integer> tasks) {
        /** e.g. "2 RUNNING", or "1 SCHEDULED (SCHEDULED: waiting for a free task slot)". */
        public String tasksText() {
            return JobWatch.describe(tasks);
        }

        /** e.g. "RUNNING, tasks 1 INITIALIZING (INITIALIZING: opening its operators, loading the model)". */
        public String describe() {
            return state + ", tasks " + tasksText();
        }
    }

    private final FlinkRestClient client;
    private final String jobId;

    public JobWatch(FlinkRestClient client, String jobId) {
        this.client = client;
        this.jobId = jobId;
    }

    /**
     * Waits until the job has started, has failed once, or has ended, or {@code limit} has passed; {@code progress}
     * gets a line whenever the tasks' states change (a large model takes a while to load), and while tasks are
     * INITIALIZING, each new state of a model download on a TaskManager (its operators' download gauges).
     */
    public Outcome untilStarted(Duration limit, Consumer<String> progress) throws IOException, InterruptedException {
        Instant start = Instant.now();
        Instant deadline = start.plus(limit);
        String said = null;
        Set<String> saidDownloads = new HashSet<>();
        Instant nextDownloadCheck = start;
        while (true) {
            JsonNode job = client.job(jobId);
            String state = job.path("state").asText();
            Map<String, Integer> tasks = tasks(job);
            List<JobFailure> failures = client.failures(jobId);
            if (!failures.isEmpty()) {
                return new Outcome(Start.FAILED, state, failures, tasks);
            }
            if (FlinkRestClient.TERMINAL_STATES.contains(state)) {
                return new Outcome(Start.ENDED, state, failures, tasks);
            }
            boolean allRunning = !tasks.isEmpty() && tasks.keySet().stream()
                    .allMatch(s -> s.equals("RUNNING") || s.equals("FINISHED"));
            if (state.equals("RUNNING") && allRunning) {
                return new Outcome(Start.STARTED, state, failures, tasks);
            }
            Outcome now = new Outcome(Start.TIMED_OUT, state, failures, tasks);
            if (!now.describe().equals(said)) {
                said = now.describe();
                progress.accept(String.format(Locale.ROOT, "%5.1f s: job %s", seconds(start), said));
            }
            if (tasks.containsKey("INITIALIZING") && Instant.now().isAfter(nextDownloadCheck)) {
                // an hf:// model that a TaskManager downloads before its engine loads: how far it is
                nextDownloadCheck = Instant.now().plus(DOWNLOAD_POLL);
                for (String line : downloads()) {
                    if (saidDownloads.add(line)) {
                        progress.accept(String.format(Locale.ROOT, "%5.1f s: %s", seconds(start), line));
                    }
                }
            }
            if (Instant.now().isAfter(deadline)) {
                return now;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /**
     * Waits until the job has ended (FINISHED, FAILED or CANCELED); each failure it restarts after is passed to
     * {@code failed} as it is seen. Returns the final state, or the state when {@code limit} passed first (one that
     * is not in {@link FlinkRestClient#TERMINAL_STATES}).
     */
    public String untilEnded(Duration limit, Consumer<JobFailure> failed) throws IOException, InterruptedException {
        return untilEnded(limit, Long.MIN_VALUE, failed);
    }

    /** {@link #untilEnded(Duration, Consumer)}, passing on only the failures after {@code seenUpTo} (epoch ms). */
    public String untilEnded(Duration limit, long seenUpTo, Consumer<JobFailure> failed)
            throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(limit);
        long lastSeen = seenUpTo;
        while (true) {
            JsonNode job = client.job(jobId);
            String state = job.path("state").asText();
            List<JobFailure> failures = client.failures(jobId);
            for (int i = failures.size() - 1; i >= 0; i--) { // oldest first
                if (failures.get(i).timestampMillis() > lastSeen) {
                    lastSeen = failures.get(i).timestampMillis();
                    failed.accept(failures.get(i));
                }
            }
            if (FlinkRestClient.TERMINAL_STATES.contains(state) || Instant.now().isAfter(deadline)) {
                return state;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    private static double seconds(Instant since) {
        return Duration.between(since, Instant.now()).toMillis() / 1e3;
    }

    /** The download lines of the job's operators; none when the metrics cannot be read now (they are only news). */
    private List<String> downloads() {
        try {
            return EngineDevices.downloads(client, jobId);
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Tasks of all vertices by execution state, states with no task left out. */
    static Map<String, Integer> tasks(JsonNode job) {
        Map<String, Integer> byState = new TreeMap<>();
        for (JsonNode vertex : job.path("vertices")) {
            vertex.path("tasks").fields().forEachRemaining(e -> {
                if (e.getValue().asInt() > 0) {
                    byState.merge(e.getKey(), e.getValue().asInt(), Integer::sum);
                }
            });
        }
        return byState;
    }

    /** e.g. "1 RUNNING, 1 INITIALIZING (opening its operators: loading the model)" or "none yet". */
    static String describe(Map<String, Integer> tasks) {
        if (tasks.isEmpty()) {
            return "none yet";
        }
        StringBuilder s = new StringBuilder();
        tasks.forEach((state, n) -> s.append(s.length() == 0 ? "" : ", ").append(n).append(' ').append(state));
        if (tasks.containsKey("SCHEDULED")) {
            s.append(" (SCHEDULED: waiting for a free task slot)");
        } else if (tasks.containsKey("INITIALIZING")) {
            s.append(" (INITIALIZING: opening its operators, loading the model)");
        }
        return s.toString();
    }
}
