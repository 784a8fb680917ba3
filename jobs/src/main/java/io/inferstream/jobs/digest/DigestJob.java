package io.inferstream.jobs.digest;

import io.inferstream.jobs.cluster.LocalFlinkConfiguration;
import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.JobModel;
import io.inferstream.jobs.KafkaJob;
import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.kafka.KafkaPreflight;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.hub.HubOverrides;
import java.time.Duration;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The digest job: chat messages from Kafka, grouped per conversation into event-time session or tumbling
 * windows, each window's transcript summarized on the shared engine, digests to Kafka (exactly-once) and
 * Parquet. Run it with {@code flink run -c io.inferstream.jobs.digest.DigestJob …} or as
 * {@code inferstream digest …}. Every setting is a flag; all are printed at start-up.
 */
@Command(name = "digest", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the digest job: chat messages in, one summary per conversation and event-time window out.")
public final class DigestJob implements Callable<Integer>, KafkaJob {
    @Spec
    CommandSpec spec;

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
            description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo. On a cluster the path must be the same on every TaskManager, and an hf:// spec is resolved by each TaskManager into its own cache (default: ${DEFAULT-VALUE}).")
    public String model = DefaultModels.REPLAY;

    @Option(names = "--bounded", description = "Read the messages present at start, then finish (default: run until cancelled).")
    public boolean bounded;

    @Mixin
    public DigestWindowOptions windows = new DigestWindowOptions();

    @Mixin
    public DigestSummaryOptions summary = new DigestSummaryOptions();

    @Mixin
    public InferenceOptions inference = new InferenceOptions();

    @Mixin
    HubCliOptions hub;

    public static void main(String[] args) {
        int code = new CommandLine(new DigestJob()).execute(args);
        if (code != 0) {
            System.exit(code); // only on failure: a cluster's client may run several mains in one JVM
        }
    }

    @Override
    public void checkFlags() {
        inference.checkCheckpointing();
        inference.checkEngineFlags();
        try {
            windows.windowing();
            summary.instruction();
            JobModel.checkSpec(model);
        } catch (IllegalArgumentException e) { // a usage error (the windows, a malformed hf:// spec), said in one line
            throw spec == null ? e : new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Override
    public KafkaPreflight.Report kafkaPreflight(Duration timeout) {
        return KafkaPreflight.check(bootstrapServers, List.of(messagesTopic), inference.transactionTimeout, timeout);
    }

    @Override
    public Integer call() throws Exception {
        checkFlags();
        StreamExecutionEnvironment env = LocalFlinkConfiguration.environment();
        Optional<JobModel> found = JobModel.orSay("digest", model, hub, InferenceOptions.enginesHere(env),
                spec.commandLine().getErr());
        if (found.isEmpty()) {
            return 2;
        }
        JobModel jobModel = found.get();
        StreamingInferenceJob.printSettings(System.out, settings(jobModel.setting()));
        if (!inference.checkLocalDevice(env, "digest")) {
            return 2;
        }
        if (!KafkaJob.report(kafkaPreflight(PREFLIGHT_TIMEOUT), spec.commandLine().getErr())) {
            return 2;
        }
        inference.configure(env);
        pipeline(jobModel).addTo(env);
        env.execute("inferstream-digest");
        return 0;
    }

    /** The job's pipeline running the local file {@code modelPath} (every TaskManager can read it), named {@code modelName}. */
    public DigestPipeline pipeline(String modelPath, String modelName) {
        return pipeline(new JobModel(modelName, modelPath, HubOverrides.NONE, modelPath));
    }

    /** The job's pipeline running {@code jobModel}. */
    public DigestPipeline pipeline(JobModel jobModel) {
        SummarizeWindowFunction summarize = new SummarizeWindowFunction(
                inference.engineSpec(jobModel.model(), jobModel.given(), jobModel.hub()),
                inference.taskOptions(), inference.requestTimeout.toMillis(), summary.instruction());
        return new DigestPipeline(bootstrapServers, messagesTopic, digestsTopic, deadLetterTopic, groupId,
                transactionalIdPrefix, inference.transactionTimeout, "none".equalsIgnoreCase(output) ? null : output, bounded, windows.windowing(),
                new ChatMessageDecoder(inference.maxTextBytes), summarize,
                inference.ordered, inference.capacity);
    }

    /** The start-up listing; {@code modelLine} says where the model is ({@link JobModel#setting()}). */
    public Map<String, String> settings(String modelLine) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("bootstrap-servers", bootstrapServers);
        s.put("messages-topic", messagesTopic);
        s.put("digests-topic", digestsTopic);
        s.put("dead-letter-topic", deadLetterTopic);
        s.put("group-id", groupId);
        s.put("transactional-id-prefix", transactionalIdPrefix);
        s.put("output", output);
        s.put("model", modelLine);
        s.putAll(windows.settings());
        String instruction = summary.instruction();
        s.put("instruction", instruction.equals(DigestSummaryOptions.CHAT_INSTRUCTION)
                ? "chat summary (the default)" : "\"" + instruction + "\"");
        s.put("bounded", Boolean.toString(bounded));
        s.putAll(inference.settings());
        return s;
    }
}
