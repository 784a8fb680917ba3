package io.inferstream.cli;

import io.inferstream.jobs.cluster.FlinkRestClient;
import io.inferstream.jobs.cluster.JobManagerAddress;
import picocli.CommandLine.Option;

/** The {@code --jobmanager host:port} option shared by submit, status and cancel. */
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
}
