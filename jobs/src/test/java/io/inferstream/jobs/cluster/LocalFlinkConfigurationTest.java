package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.apache.flink.configuration.SecurityOptions;
import org.apache.flink.streaming.api.environment.LocalStreamEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

class LocalFlinkConfigurationTest {

    @Test
    void jobsInThisJvmStartWithoutDelegationTokens() {
        // on Java 24+ a MiniCluster that asks Hadoop for tokens fails to start ("getSubject is not supported")
        assertFalse(LocalFlinkConfiguration.create().get(SecurityOptions.DELEGATION_TOKENS_ENABLED));
    }

    @Test
    void aMainRunOutsideAClusterGetsALocalEnvironmentWithThoseSettings() {
        StreamExecutionEnvironment env = LocalFlinkConfiguration.environment();
        assertInstanceOf(LocalStreamEnvironment.class, env);
        assertFalse(env.getConfiguration().get(SecurityOptions.DELEGATION_TOKENS_ENABLED));
    }
}
