package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.engine.EngineMetrics;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;

class EngineMetricGaugesTest {
    /** A metric group that keeps what is registered on it, by dotted name. */
    private static final class RecordingGroup extends UnregisteredMetricsGroup {
        final Map<String, Metric> metrics;
        final String prefix;

        RecordingGroup(Map<String, Metric> metrics, String prefix) {
            this.metrics = metrics;
            this.prefix = prefix;
        }

        @Override
        public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
            metrics.put(prefix + name, gauge);
            return gauge;
        }

        @Override
        public MetricGroup addGroup(String name) {
            return new RecordingGroup(metrics, prefix + name + ".");
        }
    }

    private static Object value(Map<String, Metric> m, String name) {
        return ((Gauge<?>) m.get("engine." + name)).getValue();
    }

    @Test
    void gaugesReadTheLatestEngineSnapshot() {
        // 10 steps of 1 sequence and 30 of 3: mean batch (10 + 90) / 40 = 2.5
        long[] histogram = {0, 10, 0, 30};
        EngineMetrics m = new EngineMetrics(3, 7, 40, 500, 120, 250.0, 60.0, 4.0, 3.5, 0.14, 0.1, histogram, 30, 90,
                400, 100, 25, 6, 2, 11, 4, 3, 80, 20);
        Map<String, Metric> metrics = new HashMap<>();
        EngineMetricGauges.register(new RecordingGroup(metrics, ""), "cuda:1 (NVIDIA H200, compute 9.0)",
                new BackendChoice(true, 1, "--device cuda:1: using the CUDA backend"), () -> m);

        assertEquals("cuda:1 (NVIDIA H200, compute 9.0)", value(metrics, "device"));
        assertEquals("--device cuda:1: using the CUDA backend", value(metrics, "deviceChoice"));
        assertEquals(1, value(metrics, "cudaDevice"));

        assertEquals(60.0, value(metrics, "generatedTokensPerSecond"));
        assertEquals(1.0, (Double) value(metrics, "engineMillisPerStep"), 1e-9); // (0.14 - 0.1) s over 40 steps
        assertEquals(250.0, value(metrics, "promptTokensPerSecond"));
        assertEquals(3, value(metrics, "runningSequences"));
        assertEquals(7, value(metrics, "waitingSequences"));
        assertEquals(30, value(metrics, "kvBlocksUsed"));
        assertEquals(0.25, (Double) value(metrics, "kvCacheUsage"), 1e-12);       // 30 of 120 blocks
        assertEquals(0.25, (Double) value(metrics, "prefixCacheHitRate"), 1e-12); // 100 of 400 tokens
        assertEquals(100L, value(metrics, "prefixCacheHitTokens"));
        assertEquals(2.5, (Double) value(metrics, "meanBatchSize"), 1e-12);
        assertEquals(2L, value(metrics, "preemptions"));
        assertEquals(120L, value(metrics, "generatedTokens"));
        assertEquals(4L, value(metrics, "cancelledRequests"));
        assertEquals(3L, value(metrics, "deadlineRequests"));
        assertEquals(80L, value(metrics, "draftTokens"));
        assertEquals(20L, value(metrics, "acceptedDraftTokens"));
        assertEquals(0.25, (Double) value(metrics, "draftAcceptanceRate"), 1e-12); // 20 of 80 guesses kept
    }

    @Test
    void onTheCpuTheCudaDeviceIsMinusOne() {
        Map<String, Metric> metrics = new HashMap<>();
        EngineMetricGauges.register(new RecordingGroup(metrics, ""), "cpu",
                new BackendChoice(false, 0, "--device auto: no CUDA device (x); using the CPU backend"), () -> null);
        assertEquals("cpu", value(metrics, "device"));
        assertEquals(-1, value(metrics, "cudaDevice"));
    }
}
