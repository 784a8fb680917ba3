package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JobFailureTest {
    @Test
    void aFailureWithoutCauseIsItsFirstLine() {
        JobFailure f = new JobFailure(0, "java.lang.IllegalStateException: --device cuda:0: no CUDA device\n"
                + "\tat io.inferstream.runtime.backend.BackendChoice.resolve(BackendChoice.java:22)\n");
        assertEquals("java.lang.IllegalStateException: --device cuda:0: no CUDA device", f.summary());
    }

    @Test
    void flinksWrapperIsFollowedByTheDeepestCause() {
        JobFailure f = new JobFailure(0, "org.apache.flink.util.FlinkException: Global failure triggered by "
                + "OperatorCoordinator for 'Source: requests'\n\tat a.b(C.java:1)\n"
                + "Caused by: org.apache.flink.util.FlinkRuntimeException: Failed to list subscribed topic partitions\n"
                + "\tat d.e(F.java:2)\n"
                + "Caused by: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not "
                + "host this topic-partition.\n\t... 3 more\n");
        assertEquals("org.apache.flink.util.FlinkException: Global failure triggered by OperatorCoordinator for "
                + "'Source: requests' (root cause: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: "
                + "This server does not host this topic-partition.)", f.summary());
    }

    @Test
    void aVeryLongLineIsCut() {
        String summary = new JobFailure(0, "java.lang.RuntimeException: " + "x".repeat(2000)).summary();
        assertEquals(500, summary.length());
        assertTrue(summary.endsWith("…"), summary);
    }

    @Test
    void aRootCauseWhoseMessageTheFirstLineAlreadyHasIsNotRepeated() {
        JobFailure f = new JobFailure(0, "java.lang.IllegalStateException: model 'hf://o/r/m.gguf' could not be resolved"
                + " on TaskManager tm-1 (cache /c): Offline mode is on and hf://o/r/m.gguf is not in the cache.\n"
                + "\tat io.inferstream.jobs.infer.TaskManagerModelFile.locate(TaskManagerModelFile.java:60)\n"
                + "Caused by: io.inferstream.runtime.hub.OfflineModeException: Offline mode is on and hf://o/r/m.gguf is"
                + " not in the cache.\n"
                + "\tat io.inferstream.runtime.hub.ModelResolver.resolveHub(ModelResolver.java:90)\n");
        assertEquals("java.lang.IllegalStateException: model 'hf://o/r/m.gguf' could not be resolved on TaskManager tm-1"
                + " (cache /c): Offline mode is on and hf://o/r/m.gguf is not in the cache.", f.summary());
    }
}
