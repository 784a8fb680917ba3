package io.inferstream.cli;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.KafkaJob;
import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.cluster.DigestJobEntry;
import io.inferstream.jobs.cluster.EngineDevices;
import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobFailure;
import io.inferstream.jobs.cluster.JobWatch;
import io.inferstream.jobs.cluster.StreamingJobEntry;
import io.inferstream.jobs.digest.DigestJob;
import io.inferstream.jobs.kafka.KafkaPreflight;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream submit}: runs the streaming, digest or batch job on a Flink session cluster from
 * the shaded job jar, and prints the job id and its web UI page.
 *
 * <ul>
 *   <li>{@code --job streaming} (or {@code digest}): first, here, the job's arguments are parsed and its Kafka
 *       preflight run ({@link KafkaJob}), so that a wrong flag, a broker that would refuse the job's transactions or a
 *       missing topic is said on this screen and nothing is uploaded; then the jar is uploaded ({@code /jars/upload})
 *       and the job's entry class run with the arguments after {@code --} ({@code /jars/:id/run}). A main that fails
 *       in the JobManager is reported by its root cause, which {@link io.inferstream.jobs.cluster.StreamingJobEntry}
 *       makes say why.
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
        description = "Submit the streaming, digest or batch job to a Flink session cluster.")
public final class SubmitCommand implements Callable<Integer> {
    /** Entry class of the streaming job in the job jar: one that never calls System.exit in the JobManager. */
    public static final String STREAMING_ENTRY_CLASS = StreamingJobEntry.class.getName();

    /** Entry class of the digest job in the job jar. */
    public static final String DIGEST_ENTRY_CLASS = DigestJobEntry.class.getName();

    /** The command-line mains of the jobs, by the --job that runs them safely in a JobManager. */
    private static final Map<String, Job> ENTRY_OF = Map.of(StreamingInferenceJob.class.getName(), Job.streaming,
            DigestJob.class.getName(), Job.digest);

    /** How long a started job's engines get to report their device (the cluster gathers gauges every 10 s). */
    static final Duration ENGINE_REPORT_WAIT = Duration.ofSeconds(20);

    enum Job { streaming, digest, batch }

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Option(names = "--jar", required = true, description = "The shaded job jar (jobs/target/inferstream-jobs-*-cluster.jar).")
    File jar;

    @Option(names = "--job", defaultValue = "streaming",
            description = "streaming, digest or batch: the job of inferstream stream, digest or batch (default ${DEFAULT-VALUE}).")
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

    @Option(names = "--from-savepoint", paramLabel = "PATH", description = "Start the streaming or digest job from "
            + "this savepoint (the path inferstream stop printed) or retained checkpoint: an upgrade. Give the job the "
            + "same --transactional-id-prefix and topics as before.")
    String fromSavepoint;

    @Option(names = "--allow-non-restored-state", description = "With --from-savepoint: start although the savepoint "
            + "holds state of an operator the job no longer has.")
    boolean allowNonRestoredState;

    @Option(names = "--no-kafka-check", description = "Do not check Kafka from this machine before uploading (the "
            + "brokers, the topic the job reads, its transaction timeout): for brokers this machine cannot reach. The job "
            + "still checks when it starts, in the JobManager.")
    boolean noKafkaCheck;

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
        if (fromSavepoint == null && allowNonRestoredState) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--allow-non-restored-state needs --from-savepoint");
        }
        if (job == Job.batch && fromSavepoint != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--from-savepoint is for the streaming and "
                    + "digest jobs: a batch run resumes from the results committed under its --output");
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
        if (entryClass != null && ENTRY_OF.containsKey(entryClass)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--entry-class " + entryClass + " is the "
                    + "command-line main, which calls System.exit on a failure: in the JobManager that stops the "
                    + "JobManager; submit it with --job " + ENTRY_OF.get(entryClass) + " instead");
        }
        List<String> args = jobArgs;
        if (entryClass == null && parallelism > 0) {
            // the streaming and digest jobs set their own parallelism (their --parallelism, default 1), which
            // overrides the run request's: submit's goes to the job as its flag
            if (jobArgs.contains("--parallelism")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--parallelism given twice: before -- "
                        + "(submit's) and after it (the job's); give it once");
            }
            args = new ArrayList<>(jobArgs);
            args.addAll(List.of("--parallelism", String.valueOf(parallelism)));
        }
        PrintWriter out = spec.commandLine().getOut();
        if (entryClass == null) {
            PrintWriter err = spec.commandLine().getErr();
            args = ClusterPaths.absolute(args, line -> err.println("submit: " + line));
            Integer refused = checkHere(args, out);
            if (refused != null) {
                return refused;
            }
        }
        try {
            FlinkRestClient client = cluster.client();
            String jarId = client.uploadJar(jar.toPath());
            String main = entryClass != null ? entryClass : job == Job.digest ? DIGEST_ENTRY_CLASS : STREAMING_ENTRY_CLASS;
            String jobId = client.runJar(jarId, main, args, parallelism, fromSavepoint == null ? null
                    : new FlinkRestClient.Restore(fromSavepoint, allowNonRestoredState));
            out.println("job id: " + jobId + (fromSavepoint == null ? "" : " (from savepoint " + fromSavepoint + ")"));
            out.println("web UI: " + client.webUi(jobId));
            out.flush();
            return waitForEnd || waitRunning ? watch(client, jobId, out) : 0;
        } catch (IOException e) { // the cluster is not there, or refused the job: its reason, in one line
            return JobManagerOption.failed(spec, e);
        }
    }

    /**
     * The streaming or digest job's own checks, here, before anything is uploaded: its flags, then its Kafka preflight.
     * Null when the job may be submitted; else the exit code (0 for the job's --help, which is printed).
     */
    private Integer checkHere(List<String> args, PrintWriter out) {
        KafkaJob kafkaJob = job == Job.digest ? new DigestJob() : new StreamingInferenceJob();
        PrintWriter err = spec.commandLine().getErr();
        CommandLine jobLine = new CommandLine(kafkaJob).setOut(out).setErr(err);
        try {
            jobLine.parseArgs(args.toArray(new String[0]));
            if (CommandLine.printHelpIfRequested(jobLine.getParseResult())) {
                return 0;
            }
            kafkaJob.checkFlags();
        } catch (CommandLine.ParameterException e) {
            err.println("submit: the " + job + " job's arguments (after --): " + e.getMessage());
            err.println("submit: nothing was submitted; inferstream " + jobLine.getCommandName() + " --help lists them");
            err.flush();
            return 2;
        }
        if (noKafkaCheck) {
            return null;
        }
        KafkaPreflight.Report report = kafkaJob.kafkaPreflight(KafkaJob.PREFLIGHT_TIMEOUT);
        boolean cancelsOnFailure = (waitRunning || waitForEnd) && !keepOnFailure;
        if (cancelsOnFailure && !report.missingTopics().isEmpty()) {
            // the job's Kafka source would fail, and the watch below would cancel the job: say so before the upload
            List<String> errors = new ArrayList<>(report.errors());
            for (String topic : report.missingTopics()) {
                errors.add("topic '" + topic + "' does not exist on " + report.bootstrapServers() + ": the job's Kafka "
                        + "source would fail, and " + (waitRunning ? "--wait-running" : "--wait") + " cancels a job "
                        + "that fails while starting; create the topic first, or add --keep-on-failure to let the job "
                        + "restart until it exists");
            }
            report = new KafkaPreflight.Report(report.bootstrapServers(), List.of(), report.warnings(), errors);
        }
        boolean anything = !report.missingTopics().isEmpty() || !report.warnings().isEmpty() || !report.errors().isEmpty();
        if (anything) {
            err.println("submit: Kafka at " + report.bootstrapServers() + " as seen from this machine "
                    + "(--no-kafka-check skips this check):");
        }
        if (!KafkaJob.report(report, err)) {
            err.println("submit: nothing was submitted");
            err.flush();
            return 2;
        }
        return null;
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
