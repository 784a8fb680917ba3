package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.inferstream.cli.CancelCommand;
import io.inferstream.cli.StatusCommand;
import io.inferstream.cli.StopCommand;
import io.inferstream.cli.SubmitCommand;
import io.inferstream.runtime.cuda.CudaDevice;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.hub.LocalHubServer;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.Digest;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The deploy/local scripts against real processes: a Kafka KRaft broker and a Flink session
 * cluster (JobManager + TaskManager JVMs) are started, the shaded job jar runs the batch job on
 * the session cluster through {@code inferstream submit}, the streaming job (stories260K) answers
 * requests produced to the broker and is cancelled, a streaming job whose model cannot load fails its submit with the
 * TaskManager's reason and is cancelled, and stop leaves no process behind.
 * Runs in {@code verify} (failsafe), after {@code package} built the shaded jar.
 */
class LocalClusterIT {
    private static final Path REPO = Path.of(System.getProperty("inferstream.repo", "..")).toAbsolutePath().normalize();
    private static final Path JAR = Path.of(System.getProperty("inferstream.cluster.jar", "target/missing.jar")).toAbsolutePath();
    private static final Path STATE = Path.of(System.getProperty("inferstream.it.state", "target/local-cluster-it")).toAbsolutePath();
    private static final ClusterScript CLUSTER = new ClusterScript(REPO, STATE, Map.of("TM_PROCESS_MEMORY", "1536m"));
    private static final List<Long> PIDS = new ArrayList<>();
    private static Map<String, String> ports;

    @BeforeAll
    static void startCluster() throws Exception {
        assertTrue(Files.isRegularFile(JAR), "shaded job jar missing: " + JAR + " (mvn package builds it)");
        CLUSTER.clean();
        ports = ClusterScript.endpoints(CLUSTER.run("start"));
        assertTrue(ports.containsKey("KAFKA_BOOTSTRAP"), ports.toString());
        for (String name : List.of("kafka", "jobmanager", "taskmanager")) {
            PIDS.add(Long.parseLong(Files.readString(STATE.resolve(name + ".pid")).trim()));
        }
    }

    @AfterAll
    static void stopCluster() throws Exception {
        CLUSTER.stopLeavingNothing();
        for (long pid : PIDS) {
            boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
            assertFalse(alive, "process " + pid + " still alive after stop");
        }
    }

    @Test
    void kafkaBrokerRoundTripsRecords() {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 20; i++) {
                producer.send(new ProducerRecord<>("it-roundtrip", "k" + i, "v" + i));
            }
            producer.flush();
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "it");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("it-roundtrip"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (seen.size() < 20 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    seen.add(r.key() + "=" + r.value());
                }
            }
        }
        assertEquals(20, seen.size(), "records read back: " + seen);
    }

    @Test
    void submittedBatchJobRunsOnTheSessionClusterFromTheShadedJar() throws Exception {
        Path in = STATE.resolve("it-input");
        Path out = STATE.resolve("it-output");
        Files.createDirectories(in);
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 30; i++) {
            if (i % 10 == 4) {
                lines.append("{not json ").append(i).append('\n');
            } else {
                lines.append("{\"id\": \"r").append(i).append("\", \"task\": \"SUMMARIZE\", \"text\": \"text ").append(i)
                        .append("\", \"created_at\": 1764324930123}\n");
            }
        }
        Files.writeString(in.resolve("requests.jsonl"), lines.toString(), StandardCharsets.UTF_8);

        StringWriter stdout = new StringWriter();
        int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).execute(
                "--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--job", "batch",
                "--", in.toString(), "--output", out.toString(), "--progress-interval", "2s",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--max-new-tokens", "4",
                "--kv-cache-memory", "16MiB");
        assertEquals(0, rc, "submit --job batch failed: " + stdout);
        Matcher job = Pattern.compile("job ([0-9a-f]{32}) for .*: (http://\\S+)").matcher(stdout.toString());
        assertTrue(job.find(), "no job id and web UI printed: " + stdout);
        assertTrue(job.group(2).startsWith("http://" + ports.get("FLINK_REST") + "/#/job/"), job.group(2));

        // The driver has the job's result; the REST view of the job may lag a moment behind it.
        assertEquals("FINISHED", new FlinkRestClient(JobManagerAddress.parse(ports.get("FLINK_REST")))
                .awaitState(job.group(1), Set.of("FINISHED"), Duration.ofSeconds(30)));
        StringWriter status = new StringWriter();
        assertEquals(0, new CommandLine(new StatusCommand()).setOut(new PrintWriter(status))
                .execute("--jobmanager", ports.get("FLINK_REST"), job.group(1)));
        assertTrue(status.toString().contains(": FINISHED"), status.toString());

        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT task, count(*), count(DISTINCT id) FROM read_parquet('" + out
                     + "/task=*/date=*/*.parquet', hive_partitioning = false) GROUP BY task")) {
            assertTrue(r.next());
            assertEquals("SUMMARIZE", r.getString(1));
            assertEquals(27, r.getLong(2));
            assertEquals(27, r.getLong(3));
            assertFalse(r.next());
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM read_parquet('" + out + "/_dead_letters/*.parquet')")) {
            r.next();
            assertEquals(3, r.getLong(1));
        }
    }

    @Test
    void submittedStreamingJobAnswersEveryRequestThenCancels() throws Exception {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        Path model = SharedModels.require("stories260K/stories260K.gguf");
        createTopics(bootstrap, "it-prompts", 2, "it-results", "it-dead-letters");
        StringWriter stdout = new StringWriter();
        int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).execute(
                "--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--job", "streaming",
                "--wait-running", "--timeout", "2m", "--",
                "--bootstrap-servers", bootstrap, "--requests-topic", "it-prompts", "--results-topic", "it-results",
                "--dead-letter-topic", "it-dead-letters", "--transactional-id-prefix", "it-streaming",
                "--output", "none", "--model", model.toString(), "--max-new-tokens", "4",
                "--kv-cache-memory", "16MiB", "--checkpoint-interval", "1s");
        assertEquals(0, rc, "submit --job streaming failed: " + stdout);
        Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
        assertTrue(job.find(), "no job id printed: " + stdout);
        assertTrue(stdout.toString().contains("web UI: http://" + ports.get("FLINK_REST") + "/#/job/"), stdout.toString());
        assertTrue(stdout.toString().contains("state: RUNNING (tasks 1 RUNNING)"), stdout.toString());
        // where the engine runs, from its gauges: the choice is made in the TaskManager
        assertTrue(stdout.toString().contains("engine: cpu in inference subtask 0 of 1 (--device cpu: using the CPU backend)"),
                stdout.toString());
        StringWriter running = new StringWriter();
        assertEquals(0, new CommandLine(new StatusCommand()).setOut(new PrintWriter(running))
                .execute("--jobmanager", ports.get("FLINK_REST"), job.group(1)), running.toString());
        assertTrue(running.toString().contains(": RUNNING\n"), running.toString());
        assertTrue(running.toString().contains("engine: cpu in inference subtask 0 of 1"), running.toString());
        assertFalse(running.toString().contains("failure"), running.toString());
        assertEquals(Map.of("0.inference.engine.cudaDevice", "-1"), cudaDeviceGauges(job.group(1)),
                "the numeric gauge that reporters without strings (Prometheus) keep: -1 on the CPU");

        Set<String> expected = new HashSet<>();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 24; i++) {
                String id = "s" + i;
                String value = i % 8 == 5 ? "{\"id\": \"" + id + "\", \"task\": \"GENERATE\"" // malformed: cut off
                        : "{\"id\": \"" + id + "\", \"task\": \"GENERATE\", \"text\": \"Once upon a time " + i
                        + "\", \"created_at\": 1764324930123}";
                if (i % 8 != 5) {
                    expected.add(id);
                }
                producer.send(new ProducerRecord<>("it-prompts", id, value));
            }
            producer.flush();
        }
        Map<String, Integer> results = readKeys(bootstrap, "it-results", expected.size());
        assertEquals(expected, results.keySet());
        results.forEach((id, n) -> assertEquals(1, n, "result of " + id + " seen " + n + " times"));
        assertEquals(3, readKeys(bootstrap, "it-dead-letters", 3).values().stream().mapToInt(Integer::intValue).sum());

        StringWriter cancel = new StringWriter();
        assertEquals(0, new CommandLine(new CancelCommand()).setOut(new PrintWriter(cancel))
                .execute("--jobmanager", ports.get("FLINK_REST"), job.group(1)), cancel.toString());
        assertTrue(cancel.toString().contains(": CANCELED"), cancel.toString());
    }

    /**
     * A streaming job whose model cannot load (here {@code --device cuda:9}) is RUNNING to Flink between its restarts:
     * {@code submit --wait-running} must say it failed, with the TaskManager's reason, and cancel it. Submitted twice:
     * the second job's class loader finds JCuda (on the TaskManager's class path) already failed, and must still give
     * the first failure's reason, not "Could not initialize class".
     */
    @Test
    void aStreamingJobWhoseModelCannotLoadFailsItsSubmitWithTheReasonAndIsCancelled() throws Exception {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        createTopics(bootstrap, "it-nodevice-prompts", 1, "it-nodevice-results", "it-nodevice-dead");
        // The TaskManager runs on this machine: its reason is the one this JVM finds.
        CudaDevice.Probe here = CudaDevice.probe();
        String reason = here.available() ? "this machine has " + here.deviceCount() + " CUDA device(s)"
                : "--device cuda:9: no CUDA device: " + here.reason();
        for (int attempt = 1; attempt <= 2; attempt++) {
            StringWriter stdout = new StringWriter();
            int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).execute(
                    "--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--job", "streaming",
                    "--wait-running", "--timeout", "2m", "--",
                    "--bootstrap-servers", bootstrap, "--requests-topic", "it-nodevice-prompts",
                    "--results-topic", "it-nodevice-results", "--dead-letter-topic", "it-nodevice-dead",
                    "--transactional-id-prefix", "it-nodevice-" + attempt, "--output", "none",
                    "--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                    "--kv-cache-memory", "16MiB", "--device", "cuda:9");
            String out = stdout.toString();
            assertEquals(1, rc, "attempt " + attempt + ": " + out);
            assertTrue(out.contains("(failed while starting)"), out);
            Matcher failure = Pattern.compile("failure: java.lang.IllegalStateException: (.*)").matcher(out);
            assertTrue(failure.find(), out);
            assertTrue(failure.group(1).contains(reason), "attempt " + attempt + ", expected " + reason + ": " + out);
            assertTrue(out.contains("cancelled the job: CANCELED"), out);

            Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(out);
            assertTrue(job.find(), out);
            StringWriter status = new StringWriter();
            new CommandLine(new StatusCommand()).setOut(new PrintWriter(status))
                    .execute("--jobmanager", ports.get("FLINK_REST"), job.group(1));
            assertTrue(status.toString().contains(": CANCELED\n"), status.toString());
            assertTrue(status.toString().contains("failures: "), status.toString());
            assertTrue(status.toString().contains(reason), status.toString());
        }
    }

    /**
     * A main that fails in the JobManager (here the JobManager's own Kafka preflight, which --no-kafka-check leaves to
     * it: the broker allows at most 15 min of transaction) is refused by the run request; submit says why in its own
     * words, from the reply's root cause, and no job is created.
     */
    @Test
    void aJobWhoseMainFailsInTheJobManagerIsRefusedWithWhatItSaid() throws Exception {
        int jobsBefore = jobCount();
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).setErr(new PrintWriter(stderr))
                .execute("--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--no-kafka-check", "--",
                        "--bootstrap-servers", ports.get("KAFKA_BOOTSTRAP"), "--output", "none",
                        "--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                        "--transaction-timeout", "20m");
        String err = stderr.toString();
        assertEquals(1, rc, stdout + err);
        assertEquals("", stdout.toString());
        assertTrue(err.startsWith("submit: run " + SubmitCommand.STREAMING_ENTRY_CLASS + " on " + ports.get("FLINK_REST")
                + " failed with HTTP "), err);
        assertTrue(err.contains("the stream job's command line ended with exit code 2; it said:\n"), err);
        assertTrue(err.contains("\nERROR: --transaction-timeout 20m exceeds transaction.max.timeout.ms = 900000 (15m)"),
                err);
        assertFalse(err.contains("\tat "), "no stack trace: " + err);
        assertEquals(jobsBefore, jobCount(), "a job was created");
    }

    /**
     * The digest job on the session cluster, from its own entry class (its main must not call System.exit in the
     * JobManager): a bounded run over two conversations' messages finishes with one digest per conversation, listing
     * exactly its messages.
     */
    @Test
    void theDigestJobRunsOnTheSessionCluster() throws Exception {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        createTopics(bootstrap, "it-messages", 1, "it-digests", "it-digest-dead");
        Map<String, Set<String>> expected = Map.of("ticket-7", Set.of("m0", "m2", "m4"), "standup", Set.of("m1", "m3"));
        long t0 = 1_764_324_930_000L;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 5; i++) {
                String conversation = i % 2 == 0 ? "ticket-7" : "standup";
                producer.send(new ProducerRecord<>("it-messages", conversation, "{\"id\": \"m" + i
                        + "\", \"conversation_id\": \"" + conversation + "\", \"author\": \"a" + i + "\", \"text\": "
                        + "\"Once upon a time " + i + "\", \"event_time\": " + (t0 + i * 1000L) + "}"));
            }
            producer.flush();
        }
        StringWriter stdout = new StringWriter();
        int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).execute(
                "--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--job", "digest",
                "--wait", "--timeout", "3m", "--",
                "--bootstrap-servers", bootstrap, "--messages-topic", "it-messages", "--digests-topic", "it-digests",
                "--dead-letter-topic", "it-digest-dead", "--transactional-id-prefix", "it-digest", "--bounded",
                "--window", "session", "--gap", "60s", "--output", "none",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--max-new-tokens", "4",
                "--kv-cache-memory", "16MiB", "--checkpoint-interval", "1s");
        String out = stdout.toString();
        assertEquals(0, rc, out);
        assertTrue(out.endsWith("state: FINISHED\n"), out);

        Map<String, Set<String>> digests = new HashMap<>();
        SingleObjectCodec<Digest> codec = SingleObjectCodec.of(Digest.class);
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "it-digests");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of("it-digests"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (digests.size() < expected.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    Digest d = codec.decode(r.value());
                    assertEquals(null, digests.put(d.getConversationId(), Set.copyOf(d.getMessageIds())),
                            "two digests of " + d.getConversationId());
                    assertFalse(d.getSummary().isBlank(), d.toString());
                }
            }
        }
        assertEquals(expected, digests);
    }

    /**
     * An upgrade: the streaming job is stopped with a savepoint ({@code inferstream stop}), requests arrive while no job
     * runs, and the next job starts from the savepoint ({@code submit --from-savepoint}) with other engine flags. Every
     * request, before, during and after, is answered exactly once in the committed topic.
     */
    @Test
    void aStreamingJobStoppedWithASavepointIsResumedFromItAnsweringEveryRequestOnce() throws Exception {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        createTopics(bootstrap, "it-up-prompts", 2, "it-up-results", "it-up-dead");
        List<String> jobFlags = List.of("--bootstrap-servers", bootstrap, "--requests-topic", "it-up-prompts",
                "--results-topic", "it-up-results", "--dead-letter-topic", "it-up-dead",
                "--transactional-id-prefix", "it-upgrade", "--output", "none",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--kv-cache-memory", "16MiB", "--checkpoint-interval", "1s");
        String first = submitStreaming(List.of(), jobFlags, "--max-new-tokens", "4");
        produceRequests(bootstrap, "it-up-prompts", 0, 6);
        assertEquals(6, readKeys(bootstrap, "it-up-results", 6).size());

        StringWriter stopped = new StringWriter();
        int rc = new CommandLine(new StopCommand()).setOut(new PrintWriter(stopped)).execute("--jobmanager",
                ports.get("FLINK_REST"), "--savepoint-dir", STATE.resolve("savepoints").toUri().toString(), first);
        assertEquals(0, rc, stopped.toString());
        assertTrue(stopped.toString().startsWith("job " + first + ": FINISHED\n"), stopped.toString());
        Matcher savepoint = Pattern.compile("savepoint: (\\S+)").matcher(stopped.toString());
        assertTrue(savepoint.find(), stopped.toString());
        assertTrue(Files.isDirectory(Path.of(java.net.URI.create(savepoint.group(1)))), savepoint.group(1));

        produceRequests(bootstrap, "it-up-prompts", 6, 12); // while no job runs
        // another consumer group, with no offsets on the brokers: only the savepoint's keeps the new job from
        // answering the first six requests again
        String second = submitStreaming(List.of("--from-savepoint", savepoint.group(1)), jobFlags,
                "--max-new-tokens", "6", "--group-id", "it-upgrade-2");
        produceRequests(bootstrap, "it-up-prompts", 12, 16);
        Map<String, Integer> results = readKeys(bootstrap, "it-up-results", 16);
        Set<String> expected = new HashSet<>();
        for (int i = 0; i < 16; i++) {
            expected.add("up" + i);
        }
        assertEquals(expected, results.keySet());
        results.forEach((id, n) -> assertEquals(1, n, "result of " + id + " seen " + n + " times"));
        assertEquals(0, new CommandLine(new CancelCommand()).execute("--jobmanager", ports.get("FLINK_REST"), second));

        StringWriter list = new StringWriter(); // status without a job id: the cluster's jobs, newest first
        assertEquals(0, new CommandLine(new StatusCommand()).setOut(new PrintWriter(list))
                .execute("--jobmanager", ports.get("FLINK_REST")), list.toString());
        List<String> lines = list.toString().lines().toList();
        int newer = lines.indexOf(lines.stream().filter(l -> l.startsWith(second + "  CANCELED  inferstream-streaming  started "))
                .findFirst().orElseThrow(() -> new AssertionError(list.toString())));
        int older = lines.indexOf(lines.stream().filter(l -> l.startsWith(first + "  FINISHED  inferstream-streaming  started "))
                .findFirst().orElseThrow(() -> new AssertionError(list.toString())));
        assertTrue(newer < older, list.toString());
        assertTrue(lines.get(lines.size() - 1).endsWith(" job(s) on " + ports.get("FLINK_REST")), list.toString());
    }

    /**
     * A job submitted with an hf:// model: the TaskManager downloads it into the cache the job names when its engine
     * loads, and {@code submit --wait-running} shows how far that download is (the Hub holds the file back half-way
     * until the line is seen). The JobManager, where the job's main runs, downloads nothing: the one download is the
     * TaskManager's, and the job answers.
     */
    @Test
    void aSubmittedJobsHfModelIsDownloadedByTheTaskManagerWithItsProgressShown() throws Exception {
        String bootstrap = ports.get("KAFKA_BOOTSTRAP");
        createTopics(bootstrap, "it-hf-prompts", 1, "it-hf-results", "it-hf-dead");
        Path cache = STATE.resolve("hf-cache");
        byte[] stories = Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf"));
        try (LocalHubServer hub = new LocalHubServer()) {
            hub.put("/test-owner/stories/resolve/main/stories260K.gguf", stories);
            CountDownLatch release = new CountDownLatch(1);
            hub.holdBodyOnceAfter(512 * 1024, release);
            StringWriter stdout = new StringWriter();
            StringWriter stderr = new StringWriter();
            CompletableFuture<Integer> submit = CompletableFuture.supplyAsync(() -> new CommandLine(new SubmitCommand())
                    .setOut(new PrintWriter(stdout, true)).setErr(new PrintWriter(stderr, true)).execute(
                    "--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(), "--job", "streaming",
                    "--wait-running", "--timeout", "2m", "--",
                    "--bootstrap-servers", bootstrap, "--requests-topic", "it-hf-prompts", "--results-topic", "it-hf-results",
                    "--dead-letter-topic", "it-hf-dead", "--transactional-id-prefix", "it-hf", "--output", "none",
                    "--model", "hf://test-owner/stories/stories260K.gguf", "--hf-endpoint", hub.baseUrl().toString(),
                    "--cache-dir", cache.toString(), "--max-new-tokens", "4", "--kv-cache-memory", "16MiB",
                    "--checkpoint-interval", "1s"));
            String progress = String.format(Locale.ROOT, "inference subtask 0: downloading its model: 0.5 of %.1f MiB (%d%%)",
                    stories.length / (1024.0 * 1024.0), 512 * 1024 * 100L / stories.length);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(50);
            while (!stderr.toString().contains(progress) && !submit.isDone() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            boolean shown = stderr.toString().contains(progress);
            StringWriter status = new StringWriter(); // status of the starting job says it too
            Matcher starting = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
            if (shown && starting.find()) {
                new CommandLine(new StatusCommand()).setOut(new PrintWriter(status))
                        .execute("--jobmanager", ports.get("FLINK_REST"), starting.group(1));
            }
            release.countDown();
            assertEquals(0, submit.get(3, TimeUnit.MINUTES), stdout + "\n" + stderr);
            assertTrue(shown, "no '" + progress + "' while the download was held: " + stderr);
            assertTrue(status.toString().contains("\n" + progress), "status: " + status);
            assertTrue(stdout.toString().contains("state: RUNNING"), stdout.toString());
            Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
            assertTrue(job.find(), stdout.toString());

            produceRequests(bootstrap, "it-hf-prompts", 0, 4);
            assertEquals(4, readKeys(bootstrap, "it-hf-results", 4).size());
            List<LocalHubServer.Request> gets = hub.requests().stream().filter(r -> r.method().equals("GET")).toList();
            assertEquals(1, gets.size(), "one download, by the TaskManager");
            assertEquals(stories.length, gets.get(0).bodyBytesSent());
            assertTrue(Files.isRegularFile(cache.resolve("hf/test-owner/stories/main/stories260K.gguf")));
            assertEquals(0, new CommandLine(new CancelCommand()).execute("--jobmanager", ports.get("FLINK_REST"), job.group(1)));
        }
    }

    /** Submits the streaming job with --wait-running; returns its id. */
    private static String submitStreaming(List<String> submitOptions, List<String> jobFlags, String... moreJobFlags) {
        List<String> args = new ArrayList<>(List.of("--jobmanager", ports.get("FLINK_REST"), "--jar", JAR.toString(),
                "--wait-running", "--timeout", "2m"));
        args.addAll(submitOptions);
        args.add("--");
        args.addAll(jobFlags);
        args.addAll(List.of(moreJobFlags));
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).setErr(new PrintWriter(stderr))
                .execute(args.toArray(new String[0]));
        assertEquals(0, rc, stdout + "\n" + stderr);
        assertTrue(stdout.toString().contains("state: RUNNING"), stdout.toString());
        Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
        assertTrue(job.find(), stdout.toString());
        return job.group(1);
    }

    /** GENERATE requests with ids {@code up<from>} .. {@code up<to - 1>}. */
    private static void produceRequests(String bootstrap, String topic, int from, int to) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, "up" + i, "{\"id\": \"up" + i + "\", \"task\": \"GENERATE\", "
                        + "\"text\": \"Once upon a time " + i + "\", \"created_at\": 1764324930123}"));
            }
            producer.flush();
        }
    }

    /** {@code input} with {@code partitions} partitions and each of {@code others} with one, on the cluster's broker. */
    private static void createTopics(String bootstrap, String input, int partitions, String... others) throws Exception {
        List<NewTopic> topics = new ArrayList<>(List.of(new NewTopic(input, partitions, (short) 1)));
        for (String other : others) {
            topics.add(new NewTopic(other, 1, (short) 1));
        }
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(topics).all().get(60, TimeUnit.SECONDS);
        }
    }

    /** How many jobs the session cluster knows, in any state. */
    private static int jobCount() throws Exception {
        HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://" + ports.get("FLINK_REST") + "/jobs")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, reply.statusCode(), reply.body());
        return new ObjectMapper().readTree(reply.body()).path("jobs").size();
    }

    /** The engine.cudaDevice gauges of a running job's subtasks, by metric id. */
    static Map<String, String> cudaDeviceGauges(String jobId) throws Exception {
        return cudaDeviceGauges(new FlinkRestClient(JobManagerAddress.parse(ports.get("FLINK_REST"))), jobId);
    }

    static Map<String, String> cudaDeviceGauges(FlinkRestClient client, String jobId) throws Exception {
        Map<String, String> gauges = new HashMap<>();
        for (var vertex : client.job(jobId).path("vertices")) {
            gauges.putAll(client.vertexMetrics(jobId, vertex.path("id").asText(), id -> id.endsWith(".engine.cudaDevice")));
        }
        return gauges;
    }

    /** Keys of committed records in {@code topic}, with how often each was seen. */
    private static Map<String, Integer> readKeys(String bootstrap, String topic, int expected) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "it-" + topic + "-" + java.util.UUID.randomUUID()); // from the start each time
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Map<String, Integer> seen = new HashMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    seen.merge(r.key(), 1, Integer::sum);
                }
                if (seen.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); // duplicates would show up now
                }
            }
        }
        return seen;
    }
}
