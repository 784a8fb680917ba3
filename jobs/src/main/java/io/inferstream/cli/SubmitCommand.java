package io.inferstream.cli;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.StreamingJobEntry;
import java.io.File;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream submit}: runs the streaming or the batch job on a Flink session cluster from
 * the shaded job jar, and prints the job id and its web UI page.
 *
 * <ul>
 *   <li>{@code --job streaming}: the jar is uploaded ({@code /jars/upload}) and the streaming
 *       job's entry class run with the arguments after {@code --} ({@code /jars/:id/run}).
 *       {@code --wait} waits for a terminal state, {@code --wait-running} until it runs.</li>
 *   <li>{@code --job batch}: the batch job is a sequence of one committed Flink job per input
 *       file, which the session cluster's jar-run endpoint cannot drive (it allows one job per
 *       program run); the driver runs here and submits each file's job with the jar attached,
 *       exactly as {@code inferstream batch --jobmanager … --jar …}. It always waits.</li>
 * </ul>
 */
@Command(name = "submit", mixinStandardHelpOptions = true,
        description = "Submit the streaming or batch job to a Flink session cluster.")
public final class SubmitCommand implements Callable<Integer> {
    /** Entry class of the streaming job in the job jar: one that never calls System.exit in the JobManager. */
    public static final String STREAMING_ENTRY_CLASS = StreamingJobEntry.class.getName();

    enum Job { streaming, batch }

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Option(names = "--jar", required = true, description = "The shaded job jar (jobs/target/inferstream-jobs-*-cluster.jar).")
    File jar;

    @Option(names = "--job", defaultValue = "streaming", description = "streaming or batch (default ${DEFAULT-VALUE}).")
    Job job;

    @Option(names = "--entry-class", description = "Run this main class of the jar instead of the streaming job's.")
    String entryClass;

    @Option(names = "--parallelism", defaultValue = "0",
            description = "Job parallelism for the REST run request (0: the job's own --parallelism).")
    int parallelism;

    @Option(names = "--wait", description = "Wait until the job has ended and report its final state.")
    boolean waitForEnd;

    @Option(names = "--wait-running", description = "Wait until the job runs.")
    boolean waitRunning;

    @Option(names = "--timeout", defaultValue = "10m", converter = HumanDuration.class,
            description = "Limit for --wait / --wait-running.")
    Duration timeout;

    @Parameters(paramLabel = "JOB_ARGS", description = "Arguments of the job (put them after --).")
    List<String> jobArgs = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (!jar.isFile()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "job jar '" + jar + "' does not exist;"
                    + " build it with: mvn -B -ntp -pl jobs -am package -DskipTests");
        }
        if (job == Job.batch && entryClass == null) {
            List<String> args = new ArrayList<>(jobArgs);
            args.addAll(List.of("--jobmanager", cluster.address().toString(), "--jar", jar.getAbsolutePath()));
            if (parallelism > 0) {
                args.addAll(List.of("--parallelism", String.valueOf(parallelism)));
            }
            CommandLine batch = new CommandLine(new BatchCommand())
                    .setOut(spec.commandLine().getOut()).setErr(spec.commandLine().getErr());
            return batch.execute(args.toArray(new String[0]));
        }
        PrintWriter out = spec.commandLine().getOut();
        FlinkRestClient client = cluster.client();
        String jarId = client.uploadJar(jar.toPath());
        String jobId = client.runJar(jarId, entryClass != null ? entryClass : STREAMING_ENTRY_CLASS, jobArgs, parallelism);
        out.println("job id: " + jobId);
        out.println("web UI: " + client.webUi(jobId));
        out.flush();
        if (waitForEnd || waitRunning) {
            Set<String> wanted = waitForEnd ? FlinkRestClient.TERMINAL_STATES : Set.of("RUNNING");
            String state = client.awaitState(jobId, wanted, timeout);
            out.println("state: " + state);
            if ("FAILED".equals(state)) {
                String cause = client.failureCause(jobId);
                out.println("failure: " + (cause == null ? "unknown" : cause.lines().findFirst().orElse(cause)));
            }
            out.flush();
            return "FAILED".equals(state) || "CANCELED".equals(state) && waitRunning ? 1 : 0;
        }
        return 0;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SubmitCommand()).execute(args));
    }
}
