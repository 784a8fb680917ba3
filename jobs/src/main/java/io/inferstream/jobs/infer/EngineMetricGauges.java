package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.engine.EngineMetrics;
import java.util.function.Supplier;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * The shared engine's metrics as Flink gauges under the operator's metric group, group {@code engine}.
 * Every operator instance in a TaskManager reports the same engine, so sum nothing across subtasks of one
 * TaskManager.
 */
public final class EngineMetricGauges {
    /** The metric group of the gauges, under the operator's. */
    public static final String GROUP = "engine";
    /** Gauge: what runs the model ("cpu", or e.g. "cuda:0 (NVIDIA H200, compute 9.0)"). */
    public static final String DEVICE = "device";
    /** Gauge: why, the --device option's resolution (e.g. "--device auto: no CUDA device (...); using the CPU backend"). */
    public static final String DEVICE_CHOICE = "deviceChoice";
    /**
     * Gauge: the CUDA device's ordinal, -1 on the CPU. Numeric, for reporters that drop strings (Prometheus): an alert on
     * -1 finds a TaskManager whose {@code --device auto} fell back to the CPU.
     */
    public static final String CUDA_DEVICE = "cudaDevice";
    /**
     * Gauge, for an {@code hf://} model: how far this TaskManager's download of it is while the operator waits for it
     * ({@link ModelDownloads#status}), empty otherwise. Registered before the engine loads: {@code submit} shows it.
     */
    public static final String MODEL_DOWNLOAD = "modelDownload";

    private EngineMetricGauges() {
    }

    /**
     * The engine's gauges, and the two strings that say where the model runs: {@code submit} and {@code status} read
     * them through the REST API, since on a cluster the --device choice is made in each TaskManager.
     */
    public static void register(MetricGroup operatorGroup, String device, BackendChoice choice,
            Supplier<EngineMetrics> metrics) {
        MetricGroup g = operatorGroup.addGroup(GROUP);
        g.gauge(DEVICE, (Gauge<String>) () -> device);
        g.gauge(DEVICE_CHOICE, (Gauge<String>) choice::reason);
        g.gauge(CUDA_DEVICE, (Gauge<Integer>) () -> choice.cuda() ? choice.ordinal() : -1);
        g.gauge("generatedTokensPerSecond", (Gauge<Double>) () -> metrics.get().generatedTokensPerSecond());
        g.gauge("promptTokensPerSecond", (Gauge<Double>) () -> metrics.get().promptTokensPerSecond());
        g.gauge("runningSequences", (Gauge<Integer>) () -> metrics.get().running());
        g.gauge("waitingSequences", (Gauge<Integer>) () -> metrics.get().waiting());
        g.gauge("kvBlocksUsed", (Gauge<Integer>) () -> metrics.get().kvBlocksUsed());
        g.gauge("kvCacheUsage", (Gauge<Double>) () -> kvUsage(metrics.get()));
        g.gauge("prefixCacheHitRate", (Gauge<Double>) () -> metrics.get().prefixHitRate());
        g.gauge("prefixCacheHitTokens", (Gauge<Long>) () -> metrics.get().prefixHitTokens());
        g.gauge("meanBatchSize", (Gauge<Double>) () -> metrics.get().meanBatchSize());
        g.gauge("meanStepMillis", (Gauge<Double>) () -> metrics.get().meanStepMillis());
        // of each step, the time outside the model's forward (scheduling, batch building, sampling)
        g.gauge("engineMillisPerStep", (Gauge<Double>) () -> metrics.get().engineMillisPerStep());
        g.gauge("steps", (Gauge<Long>) () -> metrics.get().steps());
        g.gauge("preemptions", (Gauge<Long>) () -> metrics.get().preemptions());
        g.gauge("generatedTokens", (Gauge<Long>) () -> metrics.get().generatedTokens());
        // Engine requests ended early: cancelled (a request timeout, a closed operator) or past their deadline.
        g.gauge("cancelledRequests", (Gauge<Long>) () -> metrics.get().cancelled());
        g.gauge("deadlineRequests", (Gauge<Long>) () -> metrics.get().deadlineExceeded());
        // --speculative-tokens: guessed tokens run, and the share kept (each kept one saved its sequence a step)
        g.gauge("draftTokens", (Gauge<Long>) () -> metrics.get().draftTokens());
        g.gauge("acceptedDraftTokens", (Gauge<Long>) () -> metrics.get().acceptedDraftTokens());
        g.gauge("draftAcceptanceRate", (Gauge<Double>) () -> metrics.get().draftAcceptanceRate());
    }

    /** The {@link #MODEL_DOWNLOAD} gauge of {@code model}, registered before the operator acquires its engine. */
    public static void registerDownload(MetricGroup operatorGroup, String model) {
        operatorGroup.addGroup(GROUP).gauge(MODEL_DOWNLOAD, (Gauge<String>) () -> ModelDownloads.status(model));
    }

    /** Fraction of KV blocks referenced by sequences. */
    static double kvUsage(EngineMetrics m) {
        int total = m.kvBlocksUsed() + m.kvBlocksFree();
        return total == 0 ? 0 : (double) m.kvBlocksUsed() / total;
    }
}
