package io.inferstream.jobs;

import io.inferstream.jobs.cluster.LocalFlinkConfiguration;
import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.jobs.kafka.KafkaPreflight;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.hub.HubOverrides;
import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
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
 * The streaming inference job: requests from Kafka, decoded (bad records to the dead-letter topic),
 * run on the shared engine by async I/O, results to Kafka (exactly-once) and to Parquet files. Run it
 * with {@code flink run -c io.inferstream.jobs.StreamingInferenceJob …} on a cluster, or as
 * {@code inferstream stream …}. Every setting is a flag; all are printed at start-up.
 */
@Command(name = "stream", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the streaming inference job: Kafka requests in, results to Kafka (exactly-once) and Parquet.")
public final class StreamingInferenceJob implements Callable<Integer>, KafkaJob {
    @Spec
    CommandSpec spec;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...", description = "Kafka brokers (default: ${DEFAULT-VALUE}).")
    String bootstrapServers = "localhost:9092";

    @Option(names = "--requests-topic", paramLabel = "TOPIC", description = "Topic of requests (default: ${DEFAULT-VALUE}).")
    String requestsTopic = "prompts";

    @Option(names = "--results-topic", paramLabel = "TOPIC", description = "Topic of results (default: ${DEFAULT-VALUE}).")
    String resultsTopic = "results";

    @Option(names = "--dead-letter-topic", paramLabel = "TOPIC",
            description = "Topic of rejected records with the reason (default: ${DEFAULT-VALUE}).")
    String deadLetterTopic = "dead-letters";

    @Option(names = "--group-id", paramLabel = "ID", description = "Kafka consumer group (default: ${DEFAULT-VALUE}).")
    String groupId = "inferstream";

    @Option(names = "--transactional-id-prefix", paramLabel = "PREFIX",
            description = "Kafka transactional-id prefix; unique per job, stable across restarts (default: ${DEFAULT-VALUE}).")
    String transactionalIdPrefix = "inferstream-streaming";

    @Option(names = "--output", paramLabel = "PATH",
            description = "Parquet output folder (file:///…, s3://…), buckets task=…/date=…; 'none' for no files (default: ${DEFAULT-VALUE}).")
    String output = "file:///tmp/inferstream/results";

    @Option(names = "--model", paramLabel = "MODEL",
            description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo. On a cluster the path must be the same on every TaskManager, and an hf:// spec is resolved by each TaskManager into its own cache (default: ${DEFAULT-VALUE}).")
    String model = DefaultModels.REPLAY;

    @Option(names = "--bounded", description = "Read the requests present at start, then finish (default: run until cancelled).")
    boolean bounded;

    @Mixin
    InferenceOptions inference = new InferenceOptions();

    @Mixin
    HubCliOptions hub;

    public static void main(String[] args) {
        int code = new CommandLine(new StreamingInferenceJob()).execute(args);
        if (code != 0) {
            System.exit(code); // only on failure: a cluster's client may run several mains in one JVM
        }
    }

    @Override
    public Integer call() throws Exception {
        checkFlags();
        StreamExecutionEnvironment env = LocalFlinkConfiguration.environment();
        Optional<JobModel> found = JobModel.orSay("stream", model, hub, InferenceOptions.enginesHere(env),
                spec.commandLine().getErr());
        if (found.isEmpty()) {
            return 2;
        }
        JobModel jobModel = found.get();
        printSettings(System.out, settings(jobModel.setting()));
        if (!inference.checkLocalDevice(env, "stream")) {
            return 2;
        }
        if (!KafkaJob.report(kafkaPreflight(PREFLIGHT_TIMEOUT), spec.commandLine().getErr())) {
            return 2;
        }
        inference.configure(env);
        pipeline(jobModel).addTo(env);
        env.execute("inferstream-streaming");
        return 0;
    }

    /** The job's pipeline running the local file {@code modelPath} (every TaskManager can read it at that path). */
    public RequestPipeline pipeline(String modelPath) {
        return pipeline(new JobModel(model, modelPath, HubOverrides.NONE, modelPath));
    }

    /** The job's pipeline running {@code jobModel}. */
    public RequestPipeline pipeline(JobModel jobModel) {
        return RequestPipeline.builder()
                .bootstrapServers(bootstrapServers)
                .requestTopics(requestsTopic)
                .resultTopic(resultsTopic)
                .deadLetterTopic(deadLetterTopic)
                .groupId(groupId)
                .transactionalIdPrefix(transactionalIdPrefix)
                .transactionTimeout(inference.transactionTimeout)
                .parquetPath("none".equalsIgnoreCase(output) ? null : output)
                .bounded(bounded)
                .decoder(new RequestDecoder(inference.validator()))
                .inference(inference.stage(jobModel.model(), jobModel.given(), jobModel.hub()))
                .build();
    }

    /** The start-up listing; {@code modelLine} says where the model is ({@link JobModel#setting()}). */
    public Map<String, String> settings(String modelLine) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("bootstrap-servers", bootstrapServers);
        s.put("requests-topic", requestsTopic);
        s.put("results-topic", resultsTopic);
        s.put("dead-letter-topic", deadLetterTopic);
        s.put("group-id", groupId);
        s.put("transactional-id-prefix", transactionalIdPrefix);
        s.put("output", output);
        s.put("model", modelLine);
        s.put("bounded", Boolean.toString(bounded));
        s.putAll(inference.settings());
        return s;
    }

    @Override
    public void checkFlags() {
        inference.checkCheckpointing();
        inference.checkEngineFlags();
        try {
            JobModel.checkSpec(model);
        } catch (IllegalArgumentException e) { // a malformed hf:// spec, said where submit runs
            throw spec == null ? e : new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Override
    public KafkaPreflight.Report kafkaPreflight(Duration timeout) {
        return KafkaPreflight.check(bootstrapServers, List.of(requestsTopic), inference.transactionTimeout, timeout);
    }

    /** One {@code name  value} line per setting, names aligned. */
    public static void printSettings(PrintStream out, Map<String, String> settings) {
        int width = settings.keySet().stream().mapToInt(String::length).max().orElse(0);
        out.println("settings:");
        settings.forEach((k, v) -> out.printf("  %-" + width + "s  %s%n", k, v));
        out.flush();
    }
}
