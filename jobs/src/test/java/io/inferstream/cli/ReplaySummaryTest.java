package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplaySummaryTest {
    private static InferenceResult result(String id, Task task, FinishReason reason, int completion, long queueMs,
            long computeMs, int batch) {
        return InferenceResult.newBuilder().setId(id).setTask(task).setOutput(null).setLabel(null)
                .setLabelProbabilities(new HashMap<>()).setPromptTokens(5).setCompletionTokens(completion)
                .setFinishReason(reason).setError(null).setModel("m").setQueueMs(queueMs).setComputeMs(computeMs)
                .setBatchSize(batch).setMetadata(new HashMap<>()).setCompletedAt(Instant.EPOCH).build();
    }

    @Test
    void summaryCountsTokensLatencyPercentilesAndBatchSizesAsComputedByHand() {
        List<InferenceResult> results = List.of(
                result("a", Task.GENERATE, FinishReason.LENGTH, 10, 40, 60, 2),    // latency 100
                result("b", Task.SUMMARIZE, FinishReason.STOP, 20, 0, 200, 4),     // 200
                result("c", Task.CLASSIFY, FinishReason.STOP, 0, 100, 200, 0),     // 300, no batch size reported
                result("d", Task.GENERATE, FinishReason.ERROR, 30, 150, 250, 6));  // 400
        DeadLetter letter = DeadLetter.newBuilder().setPayload(ByteBuffer.wrap(new byte[] {1})).setReason("invalid JSON: x")
                .setSourceTopic("prompts").setSourcePartition(0).setSourceOffset(7L).setFailedAt(Instant.EPOCH).build();
        ReplaySummary s = new ReplaySummary(5, results, List.of(letter), 2.0);

        assertEquals(60, s.completionTokens());
        assertEquals(20, s.promptTokens());
        assertEquals(30.0, s.completionTokensPerSecond(), 1e-12);        // 60 tokens / 2 s
        assertArrayEquals(new double[] {200, 400, 400}, s.latencyPercentiles()); // nearest rank of 4 values
        assertEquals(4.0, s.meanBatchSize(), 1e-12);                      // (2 + 4 + 6) / 3, CLASSIFY's 0 left out
        assertEquals(2, s.counts().get(Task.GENERATE).values().stream().mapToInt(Integer::intValue).sum());
        assertEquals(1, s.counts().get(Task.GENERATE).get(FinishReason.ERROR));
        assertEquals(0, s.counts().get(Task.TRANSLATE).get(FinishReason.STOP));

        String table = s.table();
        assertTrue(table.contains("requests           5"), table);
        assertTrue(table.contains("dead letters       1\n  prompts-0@7: invalid JSON: x\n"), table);
        assertTrue(table.contains("p50 200, p95 400, p99 400"), table);
        assertTrue(table.lines().anyMatch(l -> l.matches("GENERATE\\s+0\\s+1\\s+1\\s+0\\s+0\\s+2")), table);
        assertTrue(table.lines().anyMatch(l -> l.matches("total\\s+2\\s+1\\s+1\\s+0\\s+0\\s+4")), table);
    }
}
