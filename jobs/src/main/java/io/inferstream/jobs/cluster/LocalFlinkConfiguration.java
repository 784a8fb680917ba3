package io.inferstream.jobs.cluster;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.SecurityOptions;
import org.apache.flink.streaming.api.environment.LocalStreamEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The Flink settings every job run inside this JVM starts from (replay, a local {@code stream}, {@code digest} or
 * {@code batch}, the tests' MiniCluster): Flink's delegation tokens off.
 *
 * <p>A MiniCluster obtains delegation tokens at start when Hadoop is on the class path (it is, for Parquet), and
 * Hadoop's {@code UserGroupInformation.getCurrentUser} calls {@code Subject.getSubject}, which throws
 * {@code UnsupportedOperationException} from Java 24 on: every local job failed to start on Java 25 with
 * "getSubject is not supported". Tokens are for Kerberos-secured Hadoop services, which a job in this JVM never
 * reaches; a session cluster's own configuration governs its jobs (setting it on a job submitted there changes
 * nothing).
 */
public final class LocalFlinkConfiguration {

    private LocalFlinkConfiguration() {
    }

    /** A fresh configuration with those settings, for the caller to add its own to. */
    public static Configuration create() {
        Configuration conf = new Configuration();
        conf.set(SecurityOptions.DELEGATION_TOKENS_ENABLED, false);
        return conf;
    }

    /**
     * The environment of a job's main: the cluster's under {@code flink run} (untouched: a cluster may refuse
     * settings made in a program), else a local one with these settings.
     */
    public static StreamExecutionEnvironment environment() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        return env instanceof LocalStreamEnvironment ? StreamExecutionEnvironment.getExecutionEnvironment(create()) : env;
    }
}
