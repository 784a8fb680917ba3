package io.inferstream.cli;

import io.inferstream.jobs.cluster.LocalFlinkConfiguration;
import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.JobFailedException;
import io.inferstream.jobs.RequestPipeline;
import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.jobs.digest.DigestSummaryOptions;
import io.inferstream.jobs.digest.DigestWindowOptions;
import io.inferstream.jobs.kafka.EmbeddedKafkaBroker;
import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code inferstream replay}: the whole product on one machine in one command. Starts an embedded Kafka
 * broker and a Flink MiniCluster, produces a JSONL file of requests into the requests topic, runs the
 * streaming job until every request has a result or a dead letter, and prints a summary.
 */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Replay sample requests through the streaming job on a local Kafka broker and Flink MiniCluster.",
            "Prints a summary: results by task and finish reason, dead letters, tokens/s, latency, batch size."})
public final class ReplayCommand implements Callable<Integer> {
    static final String REQUESTS_TOPIC = "prompts";
    static final String RESULTS_TOPIC = "results";
    static final String DEAD_LETTER_TOPIC = "dead-letters";

    @Option(names = "--input", paramLabel = "FILE.jsonl",
            description = "Requests to replay, one JSON InferenceRequest per line (default: sample-data/requests.jsonl).")
    Path input;

    @Option(names = "--model", paramLabel = "MODEL",
            description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo (default: the instruct model"
                    + " hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/… when cached or downloadable, else the toy stories260K).")
    String model;

    @Option(names = "--output", paramLabel = "DIR", description = "Folder for the Parquet results (default: a new temporary folder).")
    Path output;

    @Option(names = "--keep-broker", description = "Keep the Kafka broker running after the summary, until Ctrl-C.")
    boolean keepBroker;

    @Option(names = "--digest",
            description = "Replay a chat stream (default: sample-data/chat-stream.jsonl) through the digest job instead, and print its digests.")
    boolean digest;

    @Mixin
    DigestWindowOptions digestWindows = new DigestWindowOptions();

    @Mixin
    DigestSummaryOptions digestSummary = new DigestSummaryOptions();

    @Mixin
    InferenceOptions inference = replayDefaults();

    @Mixin
    HubCliOptions hub;

    private final PrintStream out = System.out;

    static InferenceOptions replayDefaults() {
        InferenceOptions o = new InferenceOptions();
        o.checkpointInterval = Duration.ofSeconds(1); // results become visible on checkpoints: keep a replay snappy
        return o;
    }

    @Override
    public Integer call() throws Exception {
        inference.checkCheckpointing();
        inference.checkEngineFlags();
        // the engines run in this JVM: a missing GPU fails here, in one line
        Optional<String> device = inference.deviceLineHere("replay", System.err::println);
        if (device.isEmpty()) {
            return 2;
        }
        if (digest) {
            return new DigestReplay(input, model, output, digestWindows, digestSummary, inference, hub.toOptions(), out).run();
        }
        long start = System.nanoTime();
        Path repository = InferStream.repositoryRoot();
        Path requestsFile = input != null ? input
                : (repository == null ? null : repository.resolve("sample-data").resolve("requests.jsonl"));
        if (requestsFile == null || !Files.isRegularFile(requestsFile)) {
            System.err.println("replay: no requests file " + (requestsFile == null ? "(repository not found)" : requestsFile)
                    + "; give one with --input FILE.jsonl");
            return 2;
        }
        List<byte[]> records = readLines(requestsFile);
        ReplayModel chosen;
        try {
            chosen = ReplayModel.choose(model, hub.toOptions(), System.getenv(), repository, System.err);
        } catch (IOException e) {
            System.err.println("replay: " + e.getMessage());
            return 2;
        }
        Path parquet = output != null ? output.toAbsolutePath() : Files.createTempDirectory("inferstream-replay-");
        Files.createDirectories(parquet);

        out.println("inferstream replay: " + records.size() + " requests from " + requestsFile);
        out.println("model: " + chosen.setting());
        out.println(device.get());
        out.println("starting the embedded Kafka broker ...");
        EmbeddedKafkaBroker kafka = quietly(EmbeddedKafkaBroker::start);
        boolean closeBroker = true;
        try {
            kafka.createTopic(REQUESTS_TOPIC, 2);
            kafka.createTopic(RESULTS_TOPIC, 2);
            kafka.createTopic(DEAD_LETTER_TOPIC, 1);
            produce(kafka, records);

            StreamingInferenceJob.printSettings(out, settings(kafka, chosen, parquet));
            Configuration conf = LocalFlinkConfiguration.create();
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(inference.parallelism, conf);
            inference.configure(env);
            RequestPipeline.builder()
                    .bootstrapServers(kafka.bootstrapServers())
                    .requestTopics(REQUESTS_TOPIC)
                    .resultTopic(RESULTS_TOPIC)
                    .deadLetterTopic(DEAD_LETTER_TOPIC)
                    .groupId("inferstream-replay")
                    .transactionalIdPrefix("inferstream-replay")
                    .transactionTimeout(inference.transactionTimeout)
                    .parquetPath(parquet.toUri().toString())
                    .bounded(true)
                    .decoder(new RequestDecoder(inference.validator()))
                    .inference(inference.stage(chosen.path().toAbsolutePath().toString(), chosen.name()))
                    .build()
                    .addTo(env);
            long jobStart = System.nanoTime();
            JobClient job = env.executeAsync("inferstream-replay");
            Collected collected = collect(kafka, job, records.size());
            double jobSeconds = (System.nanoTime() - jobStart) / 1e9;

            ReplaySummary summary = new ReplaySummary(records.size(), collected.results, collected.deadLetters, jobSeconds);
            out.println();
            out.print(summary.table());
            out.println();
            out.println("Parquet results  " + parquet + "  (" + countParquet(parquet) + " files in task=…/date=… folders)");
            out.println("Kafka topics     " + REQUESTS_TOPIC + " → " + RESULTS_TOPIC + ", " + DEAD_LETTER_TOPIC
                    + " on " + kafka.bootstrapServers() + (keepBroker ? " (still running)" : " (broker stopped on exit)"));
            out.printf(Locale.ROOT, "done in %.1f s%n", (System.nanoTime() - start) / 1e9);
            out.flush();
            if (keepBroker) {
                closeBroker = false;
                waitForCtrlC(kafka);
            }
            return collected.results.size() + collected.deadLetters.size() == records.size() ? 0 : 1;
        } catch (JobFailedException e) {
            out.println();
            out.flush();
            System.err.println("replay: " + e.getMessage());
            return 1;
        } finally {
            if (closeBroker) {
                kafka.close();
            }
        }
    }

    private Map<String, String> settings(EmbeddedKafkaBroker kafka, ReplayModel chosen, Path parquet) {
        Map<String, String> s = new java.util.LinkedHashMap<>();
        s.put("bootstrap-servers", kafka.bootstrapServers() + " (embedded)");
        s.put("requests-topic", REQUESTS_TOPIC);
        s.put("results-topic", RESULTS_TOPIC);
        s.put("dead-letter-topic", DEAD_LETTER_TOPIC);
        s.put("group-id", "inferstream-replay");
        s.put("output", parquet.toString());
        s.put("model", chosen.path().toString());
        s.putAll(inference.settings());
        return s;
    }

    /** Runs {@code start} with System.out muted: the KRaft storage formatter prints its metadata there. */
    private static <T> T quietly(java.util.function.Supplier<T> start) {
        PrintStream original = System.out;
        System.setOut(new PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            return start.get();
        } finally {
            System.setOut(original);
        }
    }

    private static List<byte[]> readLines(Path file) throws IOException {
        try (Stream<String> lines = Files.lines(file, StandardCharsets.UTF_8)) {
            return lines.filter(l -> !l.isBlank()).map(l -> l.getBytes(StandardCharsets.UTF_8)).collect(Collectors.toList());
        }
    }

    private void produce(EmbeddedKafkaBroker kafka, List<byte[]> records) throws Exception {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(4 << 20));
        RecordProgressBar bar = RecordProgressBar.onStdout("producing", records.size());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            int n = 0;
            for (byte[] record : records) {
                producer.send(new ProducerRecord<>(REQUESTS_TOPIC, record)).get();
                bar.update(++n, "");
            }
        }
        bar.finish(records.size(), "into '" + REQUESTS_TOPIC + "'");
    }

    private static final class Collected {
        final List<InferenceResult> results = new ArrayList<>();
        final List<DeadLetter> deadLetters = new ArrayList<>();
    }

    /**
     * Follows the committed results and dead letters while the job runs (a progress bar), then, once the job
     * has finished, reads both topics to their end.
     */
    private Collected collect(EmbeddedKafkaBroker kafka, JobClient job, int expected) throws Exception {
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        SingleObjectCodec<InferenceResult> results = SingleObjectCodec.of(InferenceResult.class);
        SingleObjectCodec<DeadLetter> letters = SingleObjectCodec.of(DeadLetter.class);
        Collected c = new Collected();
        RecordProgressBar bar = RecordProgressBar.onStdout("results", expected);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(RESULTS_TOPIC, DEAD_LETTER_TOPIC)) {
                consumer.partitionsFor(topic).forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            var done = job.getJobExecutionResult();
            while (true) {
                boolean finished = done.isDone();
                if (finished) {
                    try {
                        done.get();
                    } catch (ExecutionException e) {
                        throw new JobFailedException("the replay's streaming job", e.getCause());
                    }
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(250))) {
                    try {
                        if (r.topic().equals(RESULTS_TOPIC)) {
                            c.results.add(results.decode(r.value()));
                        } else {
                            c.deadLetters.add(letters.decode(r.value()));
                        }
                    } catch (MalformedRecordException e) {
                        throw new IllegalStateException("unreadable record in " + r.topic() + "@" + r.offset() + ": " + e.getMessage(), e);
                    }
                }
                bar.update(c.results.size() + c.deadLetters.size(), c.deadLetters.isEmpty() ? "" : c.deadLetters.size() + " dead letters");
                if (finished && atEnd(consumer, partitions)) {
                    break;
                }
            }
        }
        bar.finish(c.results.size() + c.deadLetters.size(), c.deadLetters.size() + " dead letters");
        return c;
    }

    private static boolean atEnd(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions) {
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions); // the last stable offset under read_committed
        return partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
    }

    private static long countParquet(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(f -> f.getFileName().toString().endsWith(".parquet") && !f.getFileName().toString().startsWith(".")).count();
        }
    }

    private void waitForCtrlC(EmbeddedKafkaBroker kafka) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kafka.close();
            stopped.countDown();
        }, "stop-kafka"));
        out.println("Kafka broker running at " + kafka.bootstrapServers() + "; press Ctrl-C to stop it.");
        out.flush();
        while (!stopped.await(1, TimeUnit.HOURS)) {
            // keep waiting
        }
    }
}
