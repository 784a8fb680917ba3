package io.inferstream.cli;

import io.inferstream.jobs.HumanDuration;
import io.inferstream.jobs.cluster.FlinkRestClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream stop --savepoint-dir DIR JOB_ID}: stops a streaming or digest job with a savepoint, for an
 * upgrade (a new jar, a new model, other engine flags): {@code submit --from-savepoint} then starts the new job where
 * this one stopped. Unlike {@code cancel}, the last savepoint commits the job's Kafka transactions, and the requests
 * it had in flight are kept in it, so none is lost or answered twice across the upgrade.
 */
@Command(name = "stop", mixinStandardHelpOptions = true,
        description = "Stop a streaming or digest job with a savepoint, to start its next version from it.")
public final class StopCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    JobManagerOption cluster;

    @Parameters(index = "0", paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--savepoint-dir", required = true, paramLabel = "DIR",
            description = "Where the savepoint is written: a folder every Flink process can reach (file:///…, s3://…).")
    String savepointDir;

    @Option(names = "--timeout", defaultValue = "5m", converter = HumanDuration.class,
            description = "How long to wait for the savepoint and the job's end (default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try {
            FlinkRestClient client = cluster.client();
            String savepoint = client.stopWithSavepoint(jobId, savepointDir, timeout);
            String state = client.awaitState(jobId, Set.of("FINISHED"), timeout);
            out.println("job " + jobId + ": " + state);
            out.println("savepoint: " + savepoint);
            out.println("start the next version with: inferstream submit --from-savepoint " + savepoint + " …");
            out.flush();
            return "FINISHED".equals(state) ? 0 : 1;
        } catch (IOException e) {
            return JobManagerOption.failed(spec, e);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new StopCommand()).execute(args));
    }
}
