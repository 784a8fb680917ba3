package io.inferstream.cli;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.cluster.EngineDevices;
import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobFailure;
import io.inferstream.jobs.cluster.JobWatch;
import io.inferstream.jobs.cluster.StreamingJobEntry;
import java.io.File;
import java.io.IOException;
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
 *       {@code --wait-running} waits until it has started ({@link JobWatch}: every task running, so the model is
 *       loaded, and no failure) and prints where each engine runs ({@link EngineDevices}); a job that fails while
 *       starting (a model that does not load, {@code --device cuda} without a GPU, a missing topic) is reported
 *       with its cause and exit code 1, and cancelled, although Flink's job state says RUNNING between its restarts.
 *       {@code --wait} then waits for a terminal state, printing each failure the job restarts after.</li>
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

    /** How long a started job's engines get to report their device (the cluster gathers gauges every 10 s). */
    static final Duration ENGINE_REPORT_WAIT = Duration.ofSeconds(20);

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
            description = "Job parallelism: the streaming and batch jobs' --parallelism, and the REST run request's for an --entry-class (0: the job's own).")
    int parallelism;

    @Option(names = "--wait", description = "Wait until the job has started, then until it has ended; report its final "
            + "state and each failure it restarted after.")
    boolean waitForEnd;

    @Option(names = "--wait-running", description = "Wait until every task of the job runs (the model is loaded) and "
            + "say where each engine runs; exit code 1 with the cause when the job fails while starting.")
    boolean waitRunning;

    @Option(names = "--keep-on-failure", description = "With --wait-running or --wait: leave a job that fails while "
            + "starting to Flink's restarts instead of cancelling it.")
    boolean keepOnFailure;

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
        List<String> args = jobArgs;
        if (entryClass == null && parallelism > 0) {
            // the streaming job sets its own parallelism (its --parallelism, default 1), which overrides the run
            // request's: submit's goes to the job as its flag
            if (jobArgs.contains("--parallelism")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--parallelism given twice: before -- "
                        + "(submit's) and after it (the job's); give it once");
            }
            args = new ArrayList<>(jobArgs);
            args.addAll(List.of("--parallelism", String.valueOf(parallelism)));
        }
        PrintWriter out = spec.commandLine().getOut();
        FlinkRestClient client = cluster.client();
        String jarId = client.uploadJar(jar.toPath());
        String jobId = client.runJar(jarId, entryClass != null ? entryClass : STREAMING_ENTRY_CLASS, args, parallelism);
        out.println("job id: " + jobId);
        out.println("web UI: " + client.webUi(jobId));
        out.flush();
        return waitForEnd || waitRunning ? watch(client, jobId, out) : 0;
    }

    /**
     * --wait-running and --wait: until the job has started (or failed), then, for --wait, until it has ended; with
     * --wait --keep-on-failure a job that failed while starting is followed through its restarts to its end.
     */
    private int watch(FlinkRestClient client, String jobId, PrintWriter out) throws IOException, InterruptedException {
        JobWatch watch = new JobWatch(client, jobId);
        PrintWriter err = spec.commandLine().getErr();
        JobWatch.Outcome start = watch.untilStarted(timeout, line -> {
            err.println(line);
            err.flush();
        });
        boolean followRestarts = waitForEnd && keepOnFailure && start.start() == JobWatch.Start.FAILED
                && !FlinkRestClient.TERMINAL_STATES.contains(start.state());
        if (start.start() != JobWatch.Start.STARTED) {
            int rc = notStarted(out, client, start, jobId);
            if (!followRestarts) {
                return rc;
            }
        } else {
            out.println("state: RUNNING (tasks " + start.tasksText() + ")");
            List<String> engines = EngineDevices.read(client, jobId, ENGINE_REPORT_WAIT);
            engines.forEach(line -> out.println("engine: " + line));
            if (engines.isEmpty() && entryClass == null) {
                out.println("engine: not reported within " + ENGINE_REPORT_WAIT.toSeconds()
                        + " s; the TaskManager log says which device each engine chose");
            }
            out.flush();
        }
        if (!waitForEnd) {
            return 0;
        }
        long seen = start.failures().isEmpty() ? Long.MIN_VALUE : start.failures().get(0).timestampMillis();
        String state = watch.untilEnded(timeout, seen, failure -> {
            out.println("failure at " + failure.time() + ": " + failure.summary());
            out.flush();
        });
        boolean ended = FlinkRestClient.TERMINAL_STATES.contains(state);
        out.println("state: " + state + (ended ? "" : "; not ended within " + HumanDuration.format(timeout)
                + " (--timeout); the job is left as it is"));
        out.flush();
        return "FAILED".equals(state) || !ended ? 1 : 0;
    }

    /**
     * A job that failed, ended or ran out of time before every task ran: its state and why. A job that failed while
     * starting is cancelled (a streaming job restarts after a failure, in a loop that holds its task slots: a model
     * that does not load or a device that is not there will not load on the next attempt either) unless
     * {@code --keep-on-failure}. Exit code 1, except for a job that simply finished.
     */
    private int notStarted(PrintWriter out, FlinkRestClient client, JobWatch.Outcome outcome, String jobId)
            throws IOException, InterruptedException {
        List<JobFailure> failures = outcome.failures();
        switch (outcome.start()) {
            case TIMED_OUT -> out.println("state: " + outcome.describe() + "; not started within "
                    + HumanDuration.format(timeout) + " (--timeout); the job is left as it is");
            case ENDED -> out.println("state: " + outcome.state());
            default -> out.println("state: " + outcome.state() + " (failed while starting)");
        }
        if (!failures.isEmpty()) { // the first: what went wrong (a restart may fail differently)
            out.println("failure: " + failures.get(failures.size() - 1).summary());
        }
        if (outcome.start() == JobWatch.Start.FAILED && !FlinkRestClient.TERMINAL_STATES.contains(outcome.state())) {
            if (keepOnFailure) {
                out.println("left to Flink's restarts (--keep-on-failure)"
                        + (waitForEnd ? ", followed to its end (--wait)" : "")
                        + "; to stop it: inferstream cancel --jobmanager " + cluster.address() + " " + jobId);
            } else {
                out.flush();
                client.cancel(jobId);
                String end = client.awaitState(jobId, Set.of("CANCELED"), timeout);
                out.println(end.equals("CANCELED")
                        ? "cancelled the job: CANCELED (--keep-on-failure leaves it to Flink's restarts)"
                        : "the job ended " + end + " before the cancel took effect");
            }
        }
        out.flush();
        return "FINISHED".equals(outcome.state()) ? 0 : 1;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SubmitCommand()).execute(args));
    }
}
