package io.inferstream.cli;

import io.inferstream.jobs.cluster.LocalFlinkConfiguration;
import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.JobFailedException;
import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.digest.DigestJob;
import io.inferstream.jobs.digest.DigestSummaryOptions;
import io.inferstream.jobs.digest.DigestWindowOptions;
import io.inferstream.jobs.kafka.EmbeddedKafkaBroker;
import io.inferstream.jobs.wire.MalformedRecordException;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.client.JobExecutionException;
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

/**
 * {@code inferstream replay --digest}: the digest job on one machine. Starts an embedded Kafka broker and a
 * Flink MiniCluster, produces a JSONL chat stream (default sample-data/chat-stream.jsonl) into one partition in
 * file (arrival) order, runs the digest job over it to the end (the final watermark closes every window), and
 * prints a table of the digests and the dead letters.
 */
final class DigestReplay {
    static final String MESSAGES_TOPIC = "messages";
    static final String DIGESTS_TOPIC = "digests";
    static final String DEAD_LETTER_TOPIC = "digest-dead-letters";

    private final Path input;
    private final String model;
    private final Path output;
    private final DigestWindowOptions windows;
    private final DigestSummaryOptions summary;
    private final InferenceOptions inference;
    private final HubOptions hub;
    private final PrintStream out;

    /** @param input the chat stream, or null for the sample; @param model --model or null; @param output Parquet folder or null */
    DigestReplay(Path input, String model, Path output, DigestWindowOptions windows, DigestSummaryOptions summary,
            InferenceOptions inference, HubOptions hub, PrintStream out) {
        this.input = input;
        this.model = model;
        this.output = output;
        this.windows = windows;
        this.summary = summary;
        this.inference = inference;
        this.hub = hub;
        this.out = out;
    }

    int run() throws Exception {
        long start = System.nanoTime();
        try {
            windows.windowing();
            summary.instruction();
        } catch (IllegalArgumentException e) { // a usage error, said in one line before a broker starts
            System.err.println("replay --digest: " + e.getMessage());
            return 2;
        }
        Path repository = InferStream.repositoryRoot();
        Path messagesFile = input != null ? input
                : (repository == null ? null : repository.resolve("sample-data").resolve("chat-stream.jsonl"));
        if (messagesFile == null || !Files.isRegularFile(messagesFile)) {
            System.err.println("replay --digest: no chat stream " + (messagesFile == null ? "(repository not found)" : messagesFile)
                    + "; give one with --input FILE.jsonl");
            return 2;
        }
        List<byte[]> records;
        try (Stream<String> lines = Files.lines(messagesFile, StandardCharsets.UTF_8)) {
            records = lines.filter(l -> !l.isBlank()).map(l -> l.getBytes(StandardCharsets.UTF_8)).collect(Collectors.toList());
        }
        ReplayModel chosen;
        try {
            chosen = ReplayModel.choose(model, hub, System.getenv(), repository, System.err);
        } catch (IOException e) { // no such file, offline and not cached: one line, as replay says it
            System.err.println("replay --digest: " + e.getMessage());
            return 2;
        }
        Path parquet = output != null ? output.toAbsolutePath() : Files.createTempDirectory("inferstream-digests-");
        Files.createDirectories(parquet);

        out.println("inferstream replay --digest: " + records.size() + " chat messages from " + messagesFile);
        out.println("model: " + chosen.setting());
        out.println("starting the embedded Kafka broker ...");
        PrintStream original = System.out;
        System.setOut(new PrintStream(OutputStream.nullOutputStream())); // the KRaft formatter prints its metadata
        EmbeddedKafkaBroker kafka;
        try {
            kafka = EmbeddedKafkaBroker.start();
        } finally {
            System.setOut(original);
        }
        try {
            kafka.createTopic(MESSAGES_TOPIC, 1); // one partition: file order is arrival order, as the watermark sees it
            kafka.createTopic(DIGESTS_TOPIC, 2);
            kafka.createTopic(DEAD_LETTER_TOPIC, 1);
            produce(kafka, records);

            DigestJob job = new DigestJob();
            job.bootstrapServers = kafka.bootstrapServers();
            job.messagesTopic = MESSAGES_TOPIC;
            job.digestsTopic = DIGESTS_TOPIC;
            job.deadLetterTopic = DEAD_LETTER_TOPIC;
            job.groupId = "inferstream-digest-replay";
            job.transactionalIdPrefix = "inferstream-digest-replay";
            job.output = parquet.toUri().toString();
            job.model = chosen.name();
            job.bounded = true;
            job.windows = windows;
            job.summary = summary;
            job.inference = inference;
            StreamingInferenceJob.printSettings(out, job.settings(chosen.setting()));

            Configuration conf = LocalFlinkConfiguration.create();
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(inference.parallelism, conf);
            inference.configure(env);
            job.pipeline(chosen.path().toAbsolutePath().toString(), chosen.name()).addTo(env);
            long jobStart = System.nanoTime();
            try {
                env.execute("inferstream-digest-replay");
            } catch (JobExecutionException e) {
                System.err.println("replay --digest: " + new JobFailedException("the replay's digest job", e).getMessage());
                return 1;
            }
            double jobSeconds = (System.nanoTime() - jobStart) / 1e9;

            List<Digest> digests = new ArrayList<>();
            List<DeadLetter> letters = new ArrayList<>();
            readCommitted(kafka, digests, letters);
            out.println();
            out.print(DigestTable.of(digests));
            out.println();
            int revised = (int) digests.stream().filter(d -> d.getRevision() > 0).count();
            out.printf(Locale.ROOT, "%d digests (%d revisions caused by late messages) of %d messages in %.1f s%n",
                    digests.size(), revised, records.size(), jobSeconds);
            out.println(letters.isEmpty() ? "no dead letters" : letters.size() + " dead letters:");
            for (DeadLetter l : letters) {
                out.println("  " + (l.getRequestId() == null ? "(no id)" : l.getRequestId()) + ": " + l.getReason());
            }
            out.println("Parquet digests  " + parquet + "  (conversation=…/date=… folders)");
            out.printf(Locale.ROOT, "done in %.1f s%n", (System.nanoTime() - start) / 1e9);
            out.flush();
            return digests.isEmpty() ? 1 : 0;
        } finally {
            kafka.close();
        }
    }

    private static void produce(EmbeddedKafkaBroker kafka, List<byte[]> records) throws Exception {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (byte[] record : records) {
                producer.send(new ProducerRecord<>(MESSAGES_TOPIC, record));
            }
            producer.flush();
        }
    }

    /** Reads the committed digests and dead letters to the end (the job has finished, so the end is final). */
    private static void readCommitted(EmbeddedKafkaBroker kafka, List<Digest> digests, List<DeadLetter> letters)
            throws IOException {
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        SingleObjectCodec<Digest> digestCodec = SingleObjectCodec.of(Digest.class);
        SingleObjectCodec<DeadLetter> letterCodec = SingleObjectCodec.of(DeadLetter.class);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(DIGESTS_TOPIC, DEAD_LETTER_TOPIC)) {
                consumer.partitionsFor(topic).forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        if (r.topic().equals(DIGESTS_TOPIC)) {
                            digests.add(digestCodec.decode(r.value()));
                        } else {
                            letters.add(letterCodec.decode(r.value()));
                        }
                    } catch (MalformedRecordException e) {
                        throw new IOException("unreadable record in " + r.topic() + "@" + r.offset() + ": " + e.getMessage(), e);
                    }
                }
            }
        }
    }
}
