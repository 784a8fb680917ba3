package io.inferstream.jobs.cluster;

import java.net.URI;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A Flink MiniCluster in this JVM that several jobs run on one after another (the batch job's
 * chunk jobs), so the cluster starts once per run and not once per job. Jobs reach it through its
 * REST endpoint; user classes come from this JVM's class path.
 */
public final class LocalMiniCluster implements AutoCloseable {
    private final MiniCluster cluster;
    private final URI restAddress;

    public LocalMiniCluster(int slots, Configuration extra) throws Exception {
        Configuration conf = LocalFlinkConfiguration.create();
        conf.set(RestOptions.BIND_PORT, "0");
        conf.addAll(extra);
        cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
                .setConfiguration(conf)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(slots)
                .build());
        cluster.start();
        restAddress = cluster.getRestAddress().get();
    }

    public URI restAddress() {
        return restAddress;
    }

    /** A fresh environment that submits to this cluster. */
    public StreamExecutionEnvironment environment() {
        return StreamExecutionEnvironment.createRemoteEnvironment(restAddress.getHost(), restAddress.getPort(),
                new Configuration());
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
