package io.inferstream.jobs;

import io.inferstream.jobs.testing.CudaDeviceCondition;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import java.nio.file.Path;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming job's MiniCluster test with the model on the GPU ({@code --device cuda}): the same 500 requests,
 * broker and checks as {@link StreamingInferenceJobTest}, including greedy outputs equal to the CPU engine's.
 * Without a CUDA device the class is skipped with the reason before the broker or the MiniCluster start
 * (deploy/gpu/check.sh runs it on a GPU machine, where a missing device fails it).
 */
@ExtendWith(CudaDeviceCondition.class)
class StreamingInferenceJobCudaGpuTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    @Timeout(300)
    void everyRequestGetsOneBatchedResultWithTheModelOnTheGpu(@TempDir Path out) throws Exception {
        StreamingInferenceJobTest.runJobAndCheck(KAFKA, out, "--device", "cuda");
    }
}
