package io.inferstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.inferstream.jobs.cluster.FlinkRestClient;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code inferstream status JOB_ID}: a job's state on a session cluster. Exit code 0 unless it FAILED. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show the state of a Flink job.")
public final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Parameters(index = "0", paramLabel = "JOB_ID", description = "The job id that submit printed.")
    String jobId;

    @Override
    public Integer call() throws Exception {
        FlinkRestClient client = cluster.client();
        JsonNode job = client.job(jobId);
        String state = job.path("state").asText();
        PrintWriter out = spec.commandLine().getOut();
        out.println("job " + jobId + " (" + job.path("name").asText() + "): " + state);
        out.println("web UI: " + client.webUi(jobId));
        if ("FAILED".equals(state)) {
            String cause = client.failureCause(jobId);
            if (cause != null) {
                out.println("failure: " + cause.lines().findFirst().orElse(cause));
            }
        }
        out.flush();
        return "FAILED".equals(state) ? 1 : 0;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new StatusCommand()).execute(args));
    }
}
