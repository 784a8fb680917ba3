package io.inferstream.cli;

import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobManagerAddress;
import java.io.IOException;
import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** The {@code --jobmanager host:port} option shared by submit, status, stop and cancel. */
public final class JobManagerOption {
    @Option(names = "--jobmanager", defaultValue = "${env:INFERSTREAM_JOBMANAGER:-localhost:8081}",
            description = "REST address of the Flink session cluster (default: $INFERSTREAM_JOBMANAGER or ${DEFAULT-VALUE}).")
    String jobManager;

    JobManagerAddress address() {
        return JobManagerAddress.parse(jobManager);
    }

    FlinkRestClient client() {
        return new FlinkRestClient(address());
    }

    /**
     * A REST call that failed (the cluster is not there, or refused: its reason is the root cause Flink gave) said in
     * one line on {@code command}'s standard error, with no stack trace; exit code 1.
     */
    static int failed(CommandSpec command, IOException e) {
        PrintWriter err = command.commandLine().getErr();
        err.println(command.name() + ": " + e.getMessage());
        err.flush();
        return 1;
    }
}
