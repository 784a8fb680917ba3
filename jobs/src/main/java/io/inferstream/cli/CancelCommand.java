package io.inferstream.cli;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.cluster.FlinkRestClient;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code inferstream cancel JOB_ID}: cancels a job and waits until it is CANCELED. */
@Command(name = "cancel", mixinStandardHelpOptions = true, description = "Cancel a Flink job.")
public final class CancelCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Parameters(index = "0", paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--timeout", defaultValue = "60s", converter = HumanDuration.class,
            description = "How long to wait for the job to stop.")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        try {
            FlinkRestClient client = cluster.client();
            client.cancel(jobId);
            String state = client.awaitState(jobId, Set.of("CANCELED"), timeout);
            spec.commandLine().getOut().println("job " + jobId + ": " + state);
            spec.commandLine().getOut().flush();
            return "CANCELED".equals(state) ? 0 : 1;
        } catch (IOException e) {
            return JobManagerOption.failed(spec, e);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new CancelCommand()).execute(args));
    }
}
