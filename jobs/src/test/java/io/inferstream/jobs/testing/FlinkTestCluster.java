package io.inferstream.jobs.testing;

import io.inferstream.jobs.cluster.LocalFlinkConfiguration;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;

/**
 * The Flink MiniCluster for job tests: one TaskManager with 2 slots, {@link LocalFlinkConfiguration}'s settings
 * (so the tests run on Java 25 too), and no restarts, so a failing
 * job fails its test at once instead of restarting from checkpoints forever. Register it with
 * {@code @RegisterExtension static final MiniClusterExtension FLINK = FlinkTestCluster.extension();}
 * and use {@code StreamExecutionEnvironment.getExecutionEnvironment()} inside the test.
 */
public final class FlinkTestCluster {
    public static final int SLOTS = 2;

    private FlinkTestCluster() {
    }

    public static MiniClusterExtension extension() {
        return extension(new Configuration());
    }

    public static MiniClusterExtension extension(Configuration extra) {
        Configuration conf = LocalFlinkConfiguration.create();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        conf.addAll(extra);
        return new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
                .setNumberTaskManagers(1)
                .setNumberSlotsPerTaskManager(SLOTS)
                .setConfiguration(conf)
                .build());
    }
}
