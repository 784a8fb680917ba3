package io.inferstream.jobs.digest;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.HubCliOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The digest job: chat messages from Kafka, grouped per conversation into event-time session or tumbling
 * windows, each window's transcript summarized on the shared engine, digests to Kafka (exactly-once) and
 * Parquet. Run it with {@code flink run -c io.inferstream.jobs.digest.DigestJob …} or as
 * {@code inferstream digest …}. Every setting is a flag; all are printed at start-up.
 */
@Command(name = "digest", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the digest job: chat messages in, one summary per conversation and event-time window out.")
public final class DigestJob implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...", description = "Kafka brokers (default: ${DEFAULT-VALUE}).")
    public String bootstrapServers = "localhost:9092";

    @Option(names = "--messages-topic", paramLabel = "TOPIC", description = "Topic of chat messages (default: ${DEFAULT-VALUE}).")
    public String messagesTopic = "messages";

    @Option(names = "--digests-topic", paramLabel = "TOPIC", description = "Topic of digests (default: ${DEFAULT-VALUE}).")
    public String digestsTopic = "digests";

    @Option(names = "--dead-letter-topic", paramLabel = "TOPIC",
            description = "Topic of malformed and too-late messages with the reason (default: ${DEFAULT-VALUE}).")
    public String deadLetterTopic = "digest-dead-letters";

    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka consumer group (default: ${DEFAULT-VALUE}).")
    public String groupId = "inferstream-digest";

    @Option(names = "--transactional-id-prefix", paramLabel = "PREFIX",
            description = "Kafka transactional-id prefix; unique per job, stable across restarts (default: ${DEFAULT-VALUE}).")
    public String transactionalIdPrefix = "inferstream-digest";

    @Option(names = "--output", paramLabel = "PATH",
            description = "Parquet output folder (file:///…, s3://…), buckets conversation=…/date=…; 'none' for no files (default: ${DEFAULT-VALUE}).")
    public String output = "file:///tmp/inferstream/digests";

    @Option(names = "--model", paramLabel = "MODEL",
            description = "GGUF model: a local path or hf://owner/repo/file.gguf (default: ${DEFAULT-VALUE}).")
    public String model = DefaultModels.REPLAY;

    @Option(names = "--window", paramLabel = "SESSION|TUMBLING", converter = WindowKind.Converter.class,
            description = "Window kind: a session closes after --gap without messages; tumbling windows are --size long (default: ${DEFAULT-VALUE}).")
    public WindowKind window = WindowKind.SESSION;

    @Option(names = "--gap", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Session windows: the silence that closes a session (default: 10m).")
    public Duration gap = Duration.ofMinutes(10);

    @Option(names = "--size", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Tumbling windows: their size (default: 15m).")
    public Duration size = Duration.ofMinutes(15);

    @Option(names = "--allowed-lateness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Late messages up to this long after a window's end revise its digest; later ones are dead-lettered (default: 10m).")
    public Duration allowedLateness = Duration.ofMinutes(10);

    @Option(names = "--max-messages", paramLabel = "N",
            description = "A window with more messages is digested in parts of at most N (default: ${DEFAULT-VALUE}).")
    public int maxMessages = 200;

    @Option(names = "--out-of-orderness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Watermark bound: how far behind the newest event time a message may be and still be on time (default: 30s).")
    public Duration outOfOrderness = Duration.ofSeconds(30);

    @Option(names = "--idleness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "A source partition silent this long stops holding event time back; 0 = never (default: 1m).")
    public Duration idleness = Duration.ofMinutes(1);

    @Option(names = "--bounded", description = "Read the messages present at start, then finish (default: run until cancelled).")
    public boolean bounded;

    @Mixin
    public InferenceOptions inference = new InferenceOptions();

    @Mixin
    HubCliOptions hub;

    public static void main(String[] args) {
        System.exit(new CommandLine(new DigestJob()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path modelPath = hub.resolver().resolve(model);
        StreamingInferenceJob.printSettings(System.out, settings(modelPath));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        inference.configure(env);
        pipeline(modelPath.toAbsolutePath().toString(), model).addTo(env);
        env.execute("inferstream-digest");
        return 0;
    }

    public DigestWindowing windowing() {
        return new DigestWindowing(window, window == WindowKind.SESSION ? gap : size, allowedLateness, outOfOrderness,
                idleness, maxMessages);
    }

    /** The job's pipeline running {@code modelPath} (a file every TaskManager can read), named {@code modelName}. */
    public DigestPipeline pipeline(String modelPath, String modelName) {
        SummarizeWindowFunction summarize = new SummarizeWindowFunction(inference.engineSpec(modelPath, modelName),
                inference.taskOptions(), inference.requestTimeout.toMillis());
        return new DigestPipeline(bootstrapServers, messagesTopic, digestsTopic, deadLetterTopic, groupId,
                transactionalIdPrefix, "none".equalsIgnoreCase(output) ? null : output, bounded, windowing(), summarize,
                inference.ordered, inference.capacity);
    }

    public Map<String, String> settings(Path modelPath) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("bootstrap-servers", bootstrapServers);
        s.put("messages-topic", messagesTopic);
        s.put("digests-topic", digestsTopic);
        s.put("dead-letter-topic", deadLetterTopic);
        s.put("group-id", groupId);
        s.put("transactional-id-prefix", transactionalIdPrefix);
        s.put("output", output);
        s.put("model", model.equals(modelPath.toString()) ? model : model + " (" + modelPath + ")");
        s.putAll(windowSettings());
        s.put("bounded", Boolean.toString(bounded));
        s.putAll(inference.settings());
        return s;
    }

    /** The event-time settings by flag name. */
    public Map<String, String> windowSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("window", window.name().toLowerCase(Locale.ROOT));
        if (window == WindowKind.SESSION) {
            s.put("gap", HumanDuration.format(gap));
        } else {
            s.put("size", HumanDuration.format(size));
        }
        s.put("allowed-lateness", HumanDuration.format(allowedLateness));
        s.put("max-messages", Integer.toString(maxMessages));
        s.put("out-of-orderness", HumanDuration.format(outOfOrderness));
        s.put("idleness", idleness.isZero() ? "off" : HumanDuration.format(idleness));
        return s;
    }
}
