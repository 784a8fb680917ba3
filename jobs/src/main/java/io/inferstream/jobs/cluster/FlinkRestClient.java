package io.inferstream.jobs.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.inferstream.jobs.HumanDuration;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * A client of a Flink session cluster's REST API (the one behind the web UI): upload a job jar,
 * run its entry class with arguments, read a job's state, cancel it. Every error names the call
 * and carries the cluster's own error text.
 *
 * <pre>
 *   POST  /jars/upload            multipart "jarfile"       → {"filename": ".../&lt;jarId&gt;"}
 *   POST  /jars/&lt;jarId&gt;/run        {"entryClass", "programArgsList", "parallelism"} → {"jobid"}
 *   GET   /jobs/&lt;jobId&gt;             → {"state": "RUNNING", "vertices": [{"id", "name", "tasks": {"RUNNING": 2, …}}], …}
 *   GET   /jobs/&lt;jobId&gt;/exceptions  → {"exceptionHistory": {"entries": [{"timestamp", "stacktrace"}, …]}} newest first
 *   GET   /jobs/&lt;jobId&gt;/vertices/&lt;vertexId&gt;/metrics[?get=id,…] → [{"id": "0.inference.engine.device", "value"}]
 *   PATCH /jobs/&lt;jobId&gt;?mode=cancel
 * </pre>
 */
public final class FlinkRestClient {
    /** States after which a job does not change any more. */
    public static final Set<String> TERMINAL_STATES = Set.of("FINISHED", "FAILED", "CANCELED");

    private static final ObjectMapper JSON = new ObjectMapper();
    private final JobManagerAddress address;
    private final HttpClient http;
    private final Duration timeout;

    public FlinkRestClient(JobManagerAddress address, Duration timeout) {
        this.address = address;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // Flink's REST server speaks HTTP/1.1 only; no h2c upgrade
                .connectTimeout(timeout).build();
    }

    public FlinkRestClient(JobManagerAddress address) {
        this(address, Duration.ofSeconds(30));
    }

    public JobManagerAddress address() {
        return address;
    }

    /** The web UI page of a job. */
    public URI webUi(String jobId) {
        return URI.create(address.url() + "/#/job/running/" + jobId + "/overview");
    }

    /** Uploads a job jar; returns the cluster's id for it. */
    public String uploadJar(Path jar) throws IOException {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("job jar '" + jar + "' does not exist");
        }
        String boundary = "inferstream-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\""
                + jar.getFileName() + "\"\r\nContent-Type: application/x-java-archive\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8));
        body.write(Files.readAllBytes(jar));
        body.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        JsonNode reply = send("upload " + jar.getFileName(), HttpRequest.newBuilder(uri("/jars/upload"))
                .timeout(timeout.multipliedBy(10))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())));
        String filename = reply.path("filename").asText("");
        if (filename.isEmpty()) {
            throw new IOException("jar upload to " + address + " returned no file name: " + reply);
        }
        return filename.substring(filename.lastIndexOf('/') + 1);
    }

    /**
     * Runs {@code entryClass} of an uploaded jar; returns the job id. With a {@code restore}, the job starts from that
     * savepoint (or retained checkpoint): its sources' offsets, its in-flight requests, its sinks' transactions.
     */
    public String runJar(String jarId, String entryClass, List<String> args, int parallelism, Restore restore)
            throws IOException {
        ObjectNode request = JSON.createObjectNode();
        request.put("entryClass", entryClass);
        ArrayNode argList = request.putArray("programArgsList");
        args.forEach(argList::add);
        if (parallelism > 0) {
            request.put("parallelism", parallelism);
        }
        if (restore != null) {
            request.put("savepointPath", restore.path());
            request.put("allowNonRestoredState", restore.allowNonRestoredState());
        }
        JsonNode reply = send("run " + entryClass, HttpRequest.newBuilder(uri("/jars/" + jarId + "/run"))
                .timeout(timeout.multipliedBy(4))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(request.toString())));
        String jobId = reply.path("jobid").asText("");
        if (jobId.isEmpty()) {
            throw new IOException("running " + entryClass + " on " + address + " returned no job id: " + reply);
        }
        return jobId;
    }

    /**
     * A savepoint to start a job from; {@code allowNonRestoredState}: start although some of its state belongs to no
     * operator of the new job (one that was removed).
     */
    public record Restore(String path, boolean allowNonRestoredState) {
    }

    /**
     * Stops the job with a savepoint in {@code targetDirectory}, as {@code flink stop --savepointPath} does: the
     * sources stop, a last savepoint is taken and committed (so the Kafka sinks commit their transactions), and the
     * job FINISHES. Returns the savepoint's path, for {@link Restore}.
     */
    public String stopWithSavepoint(String jobId, String targetDirectory, Duration limit)
            throws IOException, InterruptedException {
        ObjectNode request = JSON.createObjectNode();
        request.put("targetDirectory", targetDirectory);
        request.put("drain", false); // an upgrade: windows and timers stay in the savepoint
        JsonNode reply = send("stop job " + jobId, HttpRequest.newBuilder(uri("/jobs/" + jobId + "/stop"))
                .timeout(timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(request.toString())));
        String trigger = reply.path("request-id").asText("");
        if (trigger.isEmpty()) {
            throw new IOException("stop of job " + jobId + " on " + address + " returned no request id: " + reply);
        }
        Instant deadline = Instant.now().plus(limit);
        while (true) {
            JsonNode status = send("savepoint of job " + jobId, HttpRequest.newBuilder(
                    uri("/jobs/" + jobId + "/savepoints/" + trigger)).timeout(timeout).GET());
            if ("COMPLETED".equals(status.path("status").path("id").asText())) {
                JsonNode operation = status.path("operation");
                if (operation.hasNonNull("location")) {
                    return operation.path("location").asText();
                }
                StackTraceText cause = new StackTraceText(operation.path("failure-cause").path("stack-trace").asText(""));
                String root = cause.rootCauseLine().isEmpty() ? cause.firstLine() : cause.rootCauseLine();
                throw new IOException("the savepoint of job " + jobId + " failed, so the job was not stopped: " + root);
            }
            if (Instant.now().isAfter(deadline)) {
                throw new IOException("the savepoint of job " + jobId + " did not complete within "
                        + HumanDuration.format(limit) + "; the job may still stop when it does");
            }
            Thread.sleep(250);
        }
    }

    /** A job as the cluster's overview lists it. */
    public record JobSummary(String id, String name, String state, Instant started) {
    }

    /** Every job the cluster knows (running, and ended ones it still keeps), newest first. */
    public List<JobSummary> jobs() throws IOException {
        List<JobSummary> jobs = new ArrayList<>();
        for (JsonNode job : send("jobs", HttpRequest.newBuilder(uri("/jobs/overview")).timeout(timeout).GET()).path("jobs")) {
            jobs.add(new JobSummary(job.path("jid").asText(), job.path("name").asText(), job.path("state").asText(),
                    Instant.ofEpochMilli(job.path("start-time").asLong())));
        }
        jobs.sort(Comparator.comparing(JobSummary::started).reversed());
        return jobs;
    }

    /** The job's state (CREATED, RUNNING, FINISHED, FAILED, CANCELED, …). */
    public String jobState(String jobId) throws IOException {
        return job(jobId).path("state").asText();
    }

    /** The job's details as the REST API gives them (name, state, vertices, timestamps). */
    public JsonNode job(String jobId) throws IOException {
        return send("status of job " + jobId, HttpRequest.newBuilder(uri("/jobs/" + jobId)).timeout(timeout).GET());
    }

    /**
     * The job's failures, newest first: the cluster's exception history, which keeps the last
     * {@code web.exception-history-size} (default 16). A failed task of a job that restarts is one entry.
     */
    public List<JobFailure> failures(String jobId) throws IOException {
        JsonNode exceptions = send("exceptions of job " + jobId,
                HttpRequest.newBuilder(uri("/jobs/" + jobId + "/exceptions")).timeout(timeout).GET());
        List<JobFailure> failures = new ArrayList<>();
        for (JsonNode entry : exceptions.path("exceptionHistory").path("entries")) {
            failures.add(new JobFailure(entry.path("timestamp").asLong(), entry.path("stacktrace").asText("")));
        }
        return failures;
    }

    /**
     * The values of a job vertex's metrics whose ids {@code select} accepts, by id ("subtask.operator.group.name",
     * e.g. "0.inference.engine.device"). The cluster's metric fetcher gathers them from the TaskManagers at most every
     * {@code metrics.fetcher.update-interval} (10 s by default), so a task that just started may have none yet.
     */
    public Map<String, String> vertexMetrics(String jobId, String vertexId, Predicate<String> select) throws IOException {
        String path = "/jobs/" + jobId + "/vertices/" + vertexId + "/metrics";
        List<String> ids = new ArrayList<>();
        for (JsonNode metric : send("metrics of job " + jobId, HttpRequest.newBuilder(uri(path)).timeout(timeout).GET())) {
            String id = metric.path("id").asText();
            if (select.test(id)) {
                ids.add(id);
            }
        }
        Map<String, String> values = new TreeMap<>();
        if (ids.isEmpty()) {
            return values;
        }
        String query = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
        for (JsonNode metric : send("metrics of job " + jobId,
                HttpRequest.newBuilder(uri(path + "?get=" + query)).timeout(timeout).GET())) {
            values.put(metric.path("id").asText(), metric.path("value").asText());
        }
        return values;
    }

    public void cancel(String jobId) throws IOException {
        send("cancel job " + jobId, HttpRequest.newBuilder(uri("/jobs/" + jobId + "?mode=cancel")).timeout(timeout)
                .method("PATCH", HttpRequest.BodyPublishers.noBody()));
    }

    /** Waits until the job is in one of {@code states} (or terminal); returns the state reached. */
    public String awaitState(String jobId, Set<String> states, Duration limit) throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(limit);
        while (true) {
            String state = jobState(jobId);
            if (states.contains(state) || TERMINAL_STATES.contains(state)) {
                return state;
            }
            if (Instant.now().isAfter(deadline)) {
                throw new IOException("job " + jobId + " still " + state + " after " + limit + " (waiting for " + states + ")");
            }
            Thread.sleep(250);
        }
    }

    private URI uri(String path) {
        return URI.create(address.url() + path);
    }

    private JsonNode send(String what, HttpRequest.Builder request) throws IOException {
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(what + " on " + address + " interrupted", e);
        } catch (IOException e) {
            throw new IOException(what + ": cannot reach the Flink REST API at " + address.url() + " (" + e + ")", e);
        }
        String body = response.body();
        if (response.statusCode() / 100 != 2) {
            throw new IOException(what + " on " + address + " failed with HTTP " + response.statusCode() + ": "
                    + errors(body));
        }
        return body == null || body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body);
    }

    /**
     * The reply's {@code errors}, one text each joined by "; ": a stack trace (the JobManager's, e.g. of a job's main
     * that threw) shortened to its root cause with every line of its message, which says what to fix.
     */
    static String errors(String body) {
        try {
            JsonNode errors = JSON.readTree(body).path("errors");
            if (!errors.isArray()) {
                return body;
            }
            List<String> texts = new ArrayList<>();
            for (JsonNode error : errors) {
                StackTraceText trace = new StackTraceText(error.asText());
                List<String> root = trace.rootCauseLines();
                texts.add(root.isEmpty() ? trace.firstLine() : String.join("\n", root));
            }
            return String.join("; ", texts);
        } catch (IOException e) {
            return body;
        }
    }
}
