package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.cli.CancelCommand;
import io.inferstream.cli.StatusCommand;
import io.inferstream.cli.SubmitCommand;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.testing.EmulatedDriver;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceResult;
import java.io.IOException;
import java.io.PrintWriter;
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
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * GPU jobs on a real Flink session cluster and Kafka broker (deploy/local/cluster.sh), whose TaskManager finds the
 * emulated CUDA driver as its libcuda (compute 9.0, every kernel choice forced):
 * <ul>
 * <li>Two batch jobs submitted one after the other with {@code --device cuda} both run on the device. Flink loads each
 * submitted job's classes in a class loader of its own, and a JVM binds a native library to one class loader: with
 * JCuda in the job jar only, the second job found no CUDA device and could not launch programmatically. The cluster
 * has JCuda on the TaskManager's class path, parent-first.</li>
 * <li>The streaming job loses its device mid-stream (an injected illegal-address fault, which loses the CUDA context
 * as a GPU's MMU fault does): the task fails, Flink restarts it from its checkpoint on a new engine, and every request
 * is answered exactly once, none with an error. {@code submit} said where the engine runs, {@code status} the
 * failure the job restarted after.</li>
 * <li>A model that does not fit its share of the device fails its {@code submit --wait-running} with the memory plan's
 * error, and the job is cancelled rather than left restarting in the TaskManager's slot.</li>
 * <li>The TaskManager has two (emulated) GPUs and two slots: a streaming job of parallelism 2 with {@code --device cuda}
 * gets an engine on each GPU, one per subtask, and both generate.</li>
 * </ul>
 * Skipped, with the reason printed, where g++ (for the emulated driver) is missing.
 */
class LocalClusterGpuIT {
    private static final Path REPO = Path.of(System.getProperty("inferstream.repo", "..")).toAbsolutePath().normalize();
    private static final Path JAR = Path.of(System.getProperty("inferstream.cluster.jar", "target/missing.jar")).toAbsolutePath();
    private static final Path STATE = Path.of(System.getProperty("inferstream.it.state", "target/local-cluster-it") + "-gpu")
            .toAbsolutePath();
    private static final int REQUESTS = 4;
    private static final int STREAMED = 24;
    private static final Path FAULT = STATE.resolve("fault");
    private static ClusterScript cluster;
    private static String rest;
    private static String bootstrap;

    @BeforeAll
    static void startTheClusterOnTheEmulatedDriver() throws Exception {
        assertTrue(Files.isRegularFile(JAR), "shaded job jar missing: " + JAR + " (mvn package builds it)");
        Map<String, String> env = new HashMap<>(Map.of("TM_PROCESS_MEMORY", "1536m", "TM_SLOTS", "2"));
        new ClusterScript(REPO, STATE, env).clean();
        Path driver = EmulatedDriver.build(REPO.resolve("model-runtime/src/main/cuda/emulate.sh"), STATE.resolve("driver"));
        // the TaskManager on the emulated driver: two devices of compute 9.0, every kernel choice forced, FAULT injects
        // a fault
        env.putAll(Map.of("LD_LIBRARY_PATH", driver.toString(), "INFERSTREAM_EMULATED_CC", "9.0", "INFERSTREAM_EMULATED_DEVICES", "2",
                "INFERSTREAM_EMULATED_FAULT_FILE", FAULT.toString(), "TM_JAVA_OPTS", String.join(" ", EmulatedDriver.FORCED)));
        cluster = new ClusterScript(REPO, STATE, env);
        Map<String, String> endpoints = ClusterScript.endpoints(cluster.run("start", "all"));
        rest = endpoints.get("FLINK_REST");
        bootstrap = endpoints.get("KAFKA_BOOTSTRAP");
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) { // null: skipped before the start
            cluster.stopLeavingNothing();
        }
    }

    @Test
    void secondGpuJobOnTheTaskManagerRunsOnTheDeviceToo() throws Exception {
        long logFrom = Files.size(taskManagerLog());
        Path in = STATE.resolve("input");
        Files.createDirectories(in);
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < REQUESTS; i++) {
            lines.append("{\"id\": \"g").append(i).append("\", \"task\": \"GENERATE\", \"text\": \"Once upon a time ").append(i)
                    .append("\", \"sampling\": {\"temperature\": 0}, \"created_at\": 1764324930123}\n");
        }
        Files.writeString(in.resolve("requests.jsonl"), lines.toString(), StandardCharsets.UTF_8);
        FlinkRestClient client = new FlinkRestClient(JobManagerAddress.parse(rest));
        List<List<String>> outputs = new ArrayList<>();
        for (int run = 1; run <= 2; run++) {
            Path out = STATE.resolve("output-" + run);
            StringWriter stdout = new StringWriter();
            int rc = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(stdout)).setErr(new PrintWriter(stdout)).execute(
                    "--jobmanager", rest, "--jar", JAR.toString(), "--job", "batch",
                    "--", in.toString(), "--output", out.toString(), "--progress-interval", "5s",
                    "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--max-new-tokens", "6",
                    "--kv-cache-memory", "16MiB", "--device", "cuda");
            assertEquals(0, rc, "job " + run + ": submit --device cuda failed: " + stdout + "\n" + taskManagerLogTail());
            Matcher job = Pattern.compile("job ([0-9a-f]{32}) for ").matcher(stdout.toString());
            assertTrue(job.find(), "no job id printed: " + stdout);
            assertEquals("FINISHED", client.awaitState(job.group(1), Set.of("FINISHED"), Duration.ofSeconds(30)), "job " + run);
            outputs.add(outputs(out));
        }
        assertEquals(outputs.get(0), outputs.get(1), "greedy outputs of the two jobs");

        String log = Files.readString(taskManagerLog()).substring((int) logFrom);
        assertEquals(2, count(log, "--device cuda: using the CUDA backend on cuda:"), "both jobs on a device:\n" + taskManagerLogTail());
        // the second job's launcher finds cuLaunchKernelEx too (dlopen; System.load would bind the library to the first
        // job's class loader), through the foreign-function API of the tests' Java (ClusterScript starts the cluster on
        // it): Java 17's incubator or, from Java 21, java.lang.foreign
        String launches = "programmatic dependent launch (sm_90): on";
        assertEquals(2, count(log, launches), "programmatic launches in both jobs:\n" + taskManagerLogTail());
        // each load says how the device's memory was divided; the second found what the first had: the first job's
        // engine gave its weights, activations and KV cache back when that job finished
        Matcher memory = Pattern.compile("device memory: [0-9.]+ GiB, ([0-9.]+ GiB) free at load").matcher(log);
        List<String> free = new ArrayList<>();
        while (memory.find()) {
            free.add(memory.group(1));
        }
        assertEquals(2, free.size(), "a device memory line per load:\n" + taskManagerLogTail());
        assertEquals(free.get(0), free.get(1), "free device memory at each job's load:\n" + taskManagerLogTail());
        assertEquals(2, count(log, "(--kv-cache-memory 16.0 MiB)"), "each engine's KV cache line:\n" + taskManagerLogTail());
    }

    /**
     * A model that does not fit in its share of the device fails in the TaskManager, where Flink restarts the job in a
     * loop that holds the TaskManager's one slot: {@code submit --wait-running} must give the memory plan's error and
     * cancel the job, and the device must be free again for the next one (the other tests need the slot and the
     * memory).
     */
    @Test
    void aModelThatDoesNotFitItsShareFailsItsSubmitWithThePlanAndFreesTheSlot() throws Exception {
        StringWriter stdout = new StringWriter();
        int rc = submitStreaming("fit", 1, stdout, List.of(), "--gpu-memory-fraction", "0.0002");
        String out = stdout.toString();
        assertEquals(1, rc, out + "\n" + taskManagerLogTail());
        assertTrue(out.contains("(failed while starting)"), out);
        assertTrue(Pattern.compile("failure: .*does not fit on cuda:\\d .*: weights [0-9.]+ GiB \\+ activations .*raise "
                + "--gpu-memory-fraction").matcher(out).find(), out);
        assertTrue(out.contains("cancelled the job: CANCELED"), out);
    }

    @Test
    void aLostDeviceRestartsTheStreamingJobOnANewEngine() throws Exception {
        long logFrom = Files.size(taskManagerLog());
        StringWriter stdout = new StringWriter();
        int rc = submitStreaming("gpu", 2, stdout, List.of(), "--max-new-tokens", "6", "--checkpoint-interval", "1s");
        assertEquals(0, rc, "submit --job streaming --device cuda failed: " + stdout + "\n" + taskManagerLogTail());
        Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
        assertTrue(job.find(), "no job id printed: " + stdout);
        Matcher engineLine = Pattern.compile("engine: cuda:(\\d) \\(.+, compute \\d+\\.\\d+\\) in inference subtask 0 of 1 "
                + "\\(--device cuda: using the CUDA backend on cuda:\\1 \\(spread over every GPU this TaskManager sees; .*\\)\\)")
                .matcher(stdout.toString());
        assertTrue(engineLine.find(), "submit says where the engine runs: " + stdout);
        assertEquals(Map.of("0.inference.engine.cudaDevice", engineLine.group(1)),
                LocalClusterIT.cudaDeviceGauges(new FlinkRestClient(JobManagerAddress.parse(rest)), job.group(1)));
        try {
            produce("gpu-prompts", 0, STREAMED / 2);
            assertEquals(STREAMED / 2, committedResults("gpu-results", STREAMED / 2).size(), "results before the fault");
            Files.createFile(FAULT); // the driver's next launch fails as an illegal address, and deletes the file
            produce("gpu-prompts", STREAMED / 2, STREAMED);
            Map<String, List<InferenceResult>> results = committedResults("gpu-results", STREAMED);
            assertFalse(Files.exists(FAULT), "no kernel launched after the fault file appeared");
            assertEquals(STREAMED, results.size(), "ids answered: " + results.keySet() + "\n" + taskManagerLogTail());
            results.forEach((id, rs) -> {
                assertEquals(1, rs.size(), id + " answered " + rs.size() + " times");
                assertTrue(rs.get(0).getFinishReason() != FinishReason.ERROR && rs.get(0).getError() == null,
                        id + ": " + rs.get(0).getError());
            });
            // RUNNING again on a new engine, with the lost device's failure in its history
            StringWriter status = new StringWriter();
            new CommandLine(new StatusCommand()).setOut(new PrintWriter(status)).execute("--jobmanager", rest, job.group(1));
            assertTrue(status.toString().contains(": RUNNING\n"), status.toString());
            assertTrue(Pattern.compile("failures: \\d+ in the job's history").matcher(status.toString()).find(), status.toString());
            assertTrue(status.toString().contains("ILLEGAL_ADDRESS"), status.toString());
        } finally {
            new CommandLine(new CancelCommand()).setOut(new PrintWriter(new StringWriter())).execute("--jobmanager", rest, job.group(1));
        }
        String log = Files.readString(taskManagerLog()).substring((int) logFrom);
        assertTrue(log.contains("EngineFailedException"), "the task failed on the lost device:\n" + taskManagerLogTail());
        assertTrue(log.contains("ILLEGAL_ADDRESS"), "the failure names the driver's error:\n" + taskManagerLogTail());
        assertEquals(2, count(log, "--device cuda: using the CUDA backend on cuda:"), "an engine before the fault and a new one after it:\n"
                + taskManagerLogTail());
    }

    /**
     * A streaming job of parallelism 2 with {@code --device cuda} on the TaskManager's two slots and two GPUs: each
     * subtask's engine on a GPU of its own (said by {@code submit} and the gauges), and each GPU generates (every
     * request on one partition each, so on one subtask each).
     */
    @Test
    void aJobsSubtasksSpreadOverTheTaskManagersGpus() throws Exception {
        StringWriter stdout = new StringWriter();
        int rc = submitStreaming("spread", 2, stdout, List.of("--parallelism", "2"), "--max-new-tokens", "6",
                "--checkpoint-interval", "1s");
        assertEquals(0, rc, "submit --parallelism 2 --device cuda failed: " + stdout + "\n" + taskManagerLogTail());
        Matcher job = Pattern.compile("job id: ([0-9a-f]{32})").matcher(stdout.toString());
        assertTrue(job.find(), "no job id printed: " + stdout);
        FlinkRestClient client = new FlinkRestClient(JobManagerAddress.parse(rest));
        try {
            Matcher engines = Pattern.compile("engine: cuda:(\\d) \\(.+, compute \\d+\\.\\d+\\) in inference subtask (\\d) of 2 "
                    + "\\(--device cuda: using the CUDA backend on cuda:\\1 \\(spread over every GPU this TaskManager sees;")
                    .matcher(stdout.toString());
            Map<String, String> subtaskByGpu = new TreeMap<>();
            while (engines.find()) {
                subtaskByGpu.put(engines.group(1), engines.group(2));
            }
            assertEquals(Set.of("0", "1"), subtaskByGpu.keySet(), "an engine on each GPU: " + stdout);
            assertEquals(Set.of("0", "1"), Set.copyOf(subtaskByGpu.values()), "one subtask on each: " + stdout);
            Map<String, String> expected = new TreeMap<>();
            subtaskByGpu.forEach((gpu, subtask) -> expected.put(subtask + ".inference.engine.cudaDevice", gpu));
            assertEquals(expected, new TreeMap<>(LocalClusterIT.cudaDeviceGauges(client, job.group(1))), "each subtask's GPU");

            produce("spread-prompts", 0, 8);
            Map<String, List<InferenceResult>> results = committedResults("spread-results", 8);
            assertEquals(8, results.size(), "ids answered: " + results.keySet() + "\n" + taskManagerLogTail());
            results.forEach((id, rs) -> {
                assertEquals(1, rs.size(), id + " answered " + rs.size() + " times");
                assertTrue(rs.get(0).getFinishReason() != FinishReason.ERROR && rs.get(0).getError() == null,
                        id + ": " + rs.get(0).getError());
            });
            // both engines generated: the gauges are collected every 10 s
            Map<String, String> generated = Map.of();
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40); System.nanoTime() < deadline; Thread.sleep(1000)) {
                generated = new TreeMap<>();
                for (var vertex : client.job(job.group(1)).path("vertices")) {
                    generated.putAll(client.vertexMetrics(job.group(1), vertex.path("id").asText(),
                            id -> id.endsWith(".engine.generatedTokens")));
                }
                if (generated.size() == 2 && generated.values().stream().allMatch(v -> Double.parseDouble(v) > 0)) {
                    break;
                }
            }
            assertEquals(2, generated.size(), "generated tokens of both subtasks: " + generated);
            assertTrue(generated.values().stream().allMatch(v -> Double.parseDouble(v) > 0), "both GPUs generated: " + generated);
        } finally {
            new CommandLine(new CancelCommand()).setOut(new PrintWriter(new StringWriter())).execute("--jobmanager", rest, job.group(1));
        }
    }

    /**
     * Creates the topics {@code <name>-prompts} (with {@code partitions}), {@code -results} and {@code -dead-letters},
     * then {@code submit --job streaming --wait-running} of stories260K with {@code --device cuda} over them, with
     * {@code submitArgs} before {@code --} and {@code jobArgs} after the common ones; its exit code, output in {@code out}.
     */
    private static int submitStreaming(String name, int partitions, StringWriter out, List<String> submitArgs,
                                       String... jobArgs) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(name + "-prompts", partitions, (short) 1),
                    new NewTopic(name + "-results", 1, (short) 1), new NewTopic(name + "-dead-letters", 1, (short) 1)))
                    .all().get(60, TimeUnit.SECONDS);
        }
        List<String> args = new ArrayList<>(List.of("--jobmanager", rest, "--jar", JAR.toString(), "--job", "streaming",
                "--wait-running", "--timeout", "2m"));
        args.addAll(submitArgs);
        args.addAll(List.of("--", "--bootstrap-servers", bootstrap, "--requests-topic", name + "-prompts",
                "--results-topic", name + "-results", "--dead-letter-topic", name + "-dead-letters",
                "--transactional-id-prefix", name + "-streaming", "--output", "none",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--kv-cache-memory", "16MiB",
                "--device", "cuda"));
        args.addAll(List.of(jobArgs));
        return new CommandLine(new SubmitCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(out))
                .execute(args.toArray(new String[0]));
    }

    /** Requests s{from}..s{to - 1} to {@code topic}, each to partition i % (its partitions). */
    private static void produce(String topic, int from, int to) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % 2, "s" + i, "{\"id\": \"s" + i + "\", \"task\": \"GENERATE\", "
                        + "\"text\": \"Once upon a time " + i + "\", \"sampling\": {\"temperature\": 0}, \"created_at\": 1764324930123}"));
            }
            producer.flush();
        }
    }

    /** The committed results in {@code topic} by id, read until {@code expected} ids and a quiet 3 s more (at most 180 s). */
    private static Map<String, List<InferenceResult>> committedResults(String topic, int expected) throws Exception {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "gpu-it-" + System.nanoTime());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        SingleObjectCodec<InferenceResult> codec = SingleObjectCodec.of(InferenceResult.class);
        Map<String, List<InferenceResult>> seen = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    InferenceResult result = codec.decode(r.value());
                    seen.computeIfAbsent(result.getId(), id -> new ArrayList<>()).add(result);
                }
                if (seen.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); // duplicates would show up now
                }
            }
        }
        return seen;
    }

    private static Path taskManagerLog() {
        return STATE.resolve("logs/taskmanager.log");
    }

    /** The output texts of {@code out}'s results, by id; every result without an error. */
    private static List<String> outputs(Path out) throws Exception {
        List<String> texts = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT id, output, error, completion_tokens FROM read_parquet('" + out
                     + "/task=*/date=*/*.parquet', hive_partitioning = false) ORDER BY id")) {
            while (r.next()) {
                assertEquals(null, r.getString("error"), r.getString("id"));
                assertTrue(r.getInt("completion_tokens") > 0, r.getString("id"));
                texts.add(r.getString("id") + ": " + r.getString("output"));
            }
        }
        assertEquals(REQUESTS, texts.size(), "results in " + out + ": " + texts);
        assertFalse(Files.exists(out.resolve("_dead_letters")) && Files.list(out.resolve("_dead_letters")).findAny().isPresent(),
                "dead letters in " + out);
        return texts;
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static String taskManagerLogTail() {
        try {
            List<String> lines = Files.readAllLines(taskManagerLog());
            List<String> out = Files.exists(STATE.resolve("logs/taskmanager.out"))
                    ? Files.readAllLines(STATE.resolve("logs/taskmanager.out")) : List.of();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()))
                    + "\n--- taskmanager.out (the emulated driver's lines) ---\n"
                    + String.join("\n", out.subList(Math.max(0, out.size() - 20), out.size()));
        } catch (IOException e) {
            return "(no TaskManager log: " + e + ")";
        }
    }
}
