package io.inferstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.inferstream.jobs.cluster.EngineDevices;
import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobFailure;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream status JOB_ID}: a job's state on a session cluster, where its engines run (a running job), and
 * its failures: a streaming job that restarts after each failure is RUNNING between them. Exit code 0 unless it FAILED.
 * Without a job id: every job the cluster knows, newest first, a line each.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the state of a Flink job, or list the cluster's jobs.")
public final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Parameters(index = "0", arity = "0..1", paramLabel = "JOB_ID",
            description = "The job id that submit printed; without it, every job the cluster knows.")
    String jobId;

    @Override
    public Integer call() throws Exception {
        try {
            FlinkRestClient client = cluster.client();
            if (jobId == null) {
                List<FlinkRestClient.JobSummary> jobs = client.jobs();
                PrintWriter out = spec.commandLine().getOut();
                jobs.forEach(j -> out.println(j.id() + "  " + j.state() + "  " + j.name() + "  started " + j.started()));
                out.println(jobs.size() + " job(s) on " + cluster.address());
                out.flush();
                return 0;
            }
            JsonNode job = client.job(jobId);
            String state = job.path("state").asText();
            PrintWriter out = spec.commandLine().getOut();
            out.println("job " + jobId + " (" + job.path("name").asText() + "): " + state);
            out.println("web UI: " + client.webUi(jobId));
            if ("RUNNING".equals(state)) {
                // the first request makes the cluster gather the gauges: a job just started may need a moment
                EngineDevices.read(client, jobId, Duration.ofSeconds(3)).forEach(line -> out.println("engine: " + line));
                EngineDevices.downloads(client, jobId).forEach(out::println); // subtasks still waiting for their model
            }
            List<JobFailure> failures = client.failures(jobId);
            if (!failures.isEmpty()) {
                JobFailure last = failures.get(0);
                out.println("FAILED".equals(state) ? "failure: " + last.summary()
                        : "failures: " + failures.size() + " in the job's history (a streaming job restarts after each);"
                        + " the last at " + last.time() + ": " + last.summary());
            }
            out.flush();
            return "FAILED".equals(state) ? 1 : 0;
        } catch (IOException e) {
            return JobManagerOption.failed(spec, e);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new StatusCommand()).execute(args));
    }
}
