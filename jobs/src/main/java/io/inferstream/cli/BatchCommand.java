package io.inferstream.cli;

import io.inferstream.jobs.batch.BatchInferenceJob;
import io.inferstream.jobs.batch.BatchReport;
import io.inferstream.jobs.JobModel;
import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobManagerAddress;
import io.inferstream.jobs.cluster.LocalMiniCluster;
import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.HubCliOptions;
import java.io.File;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream batch}: runs the batch inference job over request files, on a MiniCluster in
 * this JVM or on a session cluster (each input file is one committed Flink job; see
 * {@link BatchInferenceJob}). Prints a progress line periodically and a summary at the end.
 */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = "Run inference over Parquet/JSONL request files; results as Parquet (task=…/date=…), resumable.")
public final class BatchCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "INPUT",
            description = "Request files, directories or globs (*.parquet, *.jsonl); local paths, file://, s3://, hdfs://.")
    List<String> inputs;

    @Option(names = {"-o", "--output"}, required = true,
            description = "Output directory for result Parquet; re-running with the same one resumes.")
    String output;

    @Option(names = "--dead-letters", description = "Dead-letter directory (default <output>/_dead_letters).")
    String deadLetters;

    @Option(names = "--jobmanager", description = "Run on this session cluster (REST host:port) instead of locally.")
    String jobManager;

    @Option(names = "--jar", description = "Job jar shipped to --jobmanager (the shaded inferstream-jobs jar).")
    File jar;

    @Option(names = "--model", paramLabel = "MODEL",
            description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo. On a cluster the path must be the same on every TaskManager, and an hf:// spec is resolved by each TaskManager into its own cache (default: ${DEFAULT-VALUE}).")
    String model = DefaultModels.REPLAY;

    @Mixin
    InferenceOptions inference = new InferenceOptions();

    @Mixin
    HubCliOptions hub;

    @Option(names = "--slots", defaultValue = "2", description = "Task slots of the local MiniCluster (default: ${DEFAULT-VALUE}).")
    int slots;

    @Option(names = "--progress-interval", defaultValue = "10s", converter = HumanDuration.class,
            description = "How often to print progress, e.g. 5s, 1m (default: ${DEFAULT-VALUE}).")
    Duration progressInterval;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        inference.checkEngineFlags();
        if (jobManager == null) { // the engines run in this JVM: a device that is not here fails now, in one line
            Optional<String> device = inference.deviceLineHere("batch", err::println);
            if (device.isEmpty()) {
                return 2;
            }
            err.println(device.get());
        }
        // a local run resolves (downloads) the model now; on a cluster each TaskManager does, into its own cache
        Optional<JobModel> found = JobModel.orSay("batch", model, hub, jobManager == null, err);
        if (found.isEmpty()) {
            return 2;
        }
        JobModel jobModel = found.get();
        if (jobManager != null) {
            err.println("model: " + jobModel.setting());
        }
        BatchInferenceJob.Builder job = BatchInferenceJob.builder()
                .inputs(inputs.stream().map(BatchCommand::absolute).collect(Collectors.toList()))
                .outputPath(absolute(output))
                .deadLetterPath(deadLetters == null ? null : absolute(deadLetters))
                .inference(inference.stage(jobModel.model(), jobModel.given(), jobModel.hub()))
                .decoder(new RequestDecoder(inference.validator()))
                .parallelism(inference.parallelism)
                .progressInterval(progressInterval)
                .progressListener(p -> {
                    err.println("progress: " + p.line());
                    err.flush();
                });
        BatchReport report;
        try {
            report = run(job, out);
        } catch (IllegalArgumentException e) { // an input that does not exist or cannot be read as requests
            err.println("batch: " + e.getMessage());
            err.flush();
            return 2;
        } catch (IllegalStateException e) {
            // a chunk job failed (its root cause is in the message) or the inputs could not be read: one line, as
            // generate does; the cluster's web UI and log keep the whole stack trace
            err.println("batch: " + e.getMessage());
            err.println("batch: results committed before the failure are kept; the same command resumes after them");
            err.flush();
            return 1;
        }
        out.println("batch finished: " + report);
        out.flush();
        return 0;
    }

    private BatchReport run(BatchInferenceJob.Builder job, PrintWriter out) throws Exception {
        BatchReport report;
        if (jobManager != null) {
            if (jar == null || !jar.isFile()) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--jobmanager needs --jar with the shaded job jar (jobs/target/inferstream-jobs-*-cluster.jar)");
            }
            JobManagerAddress address = JobManagerAddress.parse(jobManager);
            String jarPath = jar.getAbsolutePath();
            FlinkRestClient rest = new FlinkRestClient(address);
            job.jobListener((file, jobId) -> {
                out.println("job " + jobId + " for " + file.path() + ": " + rest.webUi(jobId));
                out.flush();
            });
            report = job.environments(() -> StreamExecutionEnvironment.createRemoteEnvironment(
                    address.host(), address.port(), new Configuration(), jarPath)).build().run();
        } else {
            try (LocalMiniCluster cluster = new LocalMiniCluster(slots, new Configuration())) {
                report = job.environments(cluster::environment).build().run();
            }
        }
        return report;
    }

    /** Relative local paths become absolute, so a cluster and later re-runs see the same path. */
    static String absolute(String path) {
        if (path.contains("://") || path.startsWith("/")) {
            return path;
        }
        return new File(System.getProperty("user.dir"), path).getPath();
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new BatchCommand()).execute(args));
    }
}
