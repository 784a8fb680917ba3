package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.infer.EngineMetricGauges;
import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.engine.EngineMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link JobWatch} and {@link EngineDevices} against a real Flink cluster's REST API (a MiniCluster with its REST
 * endpoint): a job whose operator fails in open() is RUNNING to Flink between its restarts, and must be reported as
 * failed with its root cause; one whose operator takes a while to open is started only once it has; the engine's
 * device gauges come back as one line per device.
 */
class JobWatchTest {
    private static LocalMiniCluster cluster;
    private static FlinkRestClient client;

    @BeforeAll
    static void start() throws Exception {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(300));
        conf.set(MetricOptions.METRIC_FETCHER_UPDATE_INTERVAL, Duration.ofSeconds(1));
        // The REST API caches a job's details for web.refresh-interval (3 s by default): a task's 1.5 s INITIALIZING
        // would fall between two snapshots.
        conf.set(WebOptions.REFRESH_INTERVAL, Duration.ofMillis(100));
        cluster = new LocalMiniCluster(4, conf);
        client = new FlinkRestClient(JobManagerAddress.parse(cluster.restAddress().getHost() + ":"
                + cluster.restAddress().getPort()));
    }

    @AfterAll
    static void stop() throws Exception {
        cluster.close();
    }

    /** Opens like a model that fails to load: our exception wrapped around the cause that says what to fix. */
    static final class FailingOpen extends RichMapFunction<Long, Long> {
        @Override
        public void open(OpenContext context) {
            throw new IllegalStateException("loading model m failed",
                    new IllegalArgumentException("--device cuda:9: this machine has 1 CUDA device(s)"));
        }

        @Override
        public Long map(Long value) {
            return value;
        }
    }

    /** Opens like a model that loads in 1.5 s, then says where its engine runs. */
    static final class SlowOpen extends RichMapFunction<Long, Long> {
        @Override
        public void open(OpenContext context) throws InterruptedException {
            Thread.sleep(1500);
            EngineMetricGauges.register(getRuntimeContext().getMetricGroup(), "cpu",
                    new BackendChoice(false, 0, "--device auto: no CUDA device (test); using the CPU backend"),
                    () -> new EngineMetrics(0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0, 0, new long[1], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        }

        @Override
        public Long map(Long value) throws InterruptedException {
            Thread.sleep(10);
            return value;
        }
    }

    private static JobClient submit(RichMapFunction<Long, Long> operator, String name) throws Exception {
        StreamExecutionEnvironment env = cluster.environment();
        env.setParallelism(2);
        env.fromSequence(0, Long.MAX_VALUE).map(operator).name(name).sinkTo(new DiscardingSink<>());
        return env.executeAsync(name);
    }

    @Test
    void aJobWhoseOperatorFailsToOpenIsReportedWithItsRootCauseThoughFlinkSaysRunning() throws Exception {
        JobClient job = submit(new FailingOpen(), "fails-to-open");
        String id = job.getJobID().toHexString();
        List<String> progress = new ArrayList<>();
        JobWatch watch = new JobWatch(client, id);

        JobWatch.Outcome outcome = watch.untilStarted(Duration.ofMinutes(1), progress::add);

        assertEquals(JobWatch.Start.FAILED, outcome.start(), outcome.toString());
        assertFalse(outcome.failures().isEmpty());
        assertEquals("java.lang.IllegalStateException: loading model m failed (root cause: "
                + "java.lang.IllegalArgumentException: --device cuda:9: this machine has 1 CUDA device(s))",
                outcome.failures().get(outcome.failures().size() - 1).summary());

        // Two restarts, then FAILED: each of the three failures is passed on once, oldest first; followed on from the
        // failures already seen at the start, only the later ones.
        List<JobFailure> later = new ArrayList<>();
        assertEquals("FAILED", watch.untilEnded(Duration.ofMinutes(1), outcome.failures().get(0).timestampMillis(),
                later::add));
        assertEquals(3 - outcome.failures().size(), later.size(), later + " after " + outcome.failures());
        List<JobFailure> seen = new ArrayList<>();
        assertEquals("FAILED", watch.untilEnded(Duration.ofMinutes(1), seen::add));
        assertEquals(3, seen.size(), seen.toString());
        assertTrue(seen.get(0).timestampMillis() < seen.get(1).timestampMillis()
                && seen.get(1).timestampMillis() < seen.get(2).timestampMillis(), seen.toString());
        assertEquals(3, client.failures(id).size());
    }

    @Test
    void aJobIsStartedOnlyOnceEveryOperatorHasOpenedAndItsEnginesSayWhereTheyRun() throws Exception {
        long submitted = System.nanoTime();
        JobClient job = submit(new SlowOpen(), "engine-op");
        String id = job.getJobID().toHexString();
        try {
            List<String> progress = new ArrayList<>();
            JobWatch.Outcome outcome = new JobWatch(client, id).untilStarted(Duration.ofMinutes(1), progress::add);
            long waitedMs = (System.nanoTime() - submitted) / 1_000_000;

            assertEquals(JobWatch.Start.STARTED, outcome.start(), outcome + "\n" + progress);
            assertTrue(waitedMs >= 1500, "started after " + waitedMs + " ms, before the operators had opened");
            assertEquals("RUNNING", outcome.state());
            assertEquals("2 RUNNING", outcome.tasksText()); // source, map and sink chained: 2 subtasks
            assertTrue(progress.stream().anyMatch(line -> line.contains("INITIALIZING: opening its operators")),
                    "the 1.5 s open is said while it lasts: " + progress);
            assertTrue(outcome.failures().isEmpty());

            assertEquals(List.of("cpu in engine-op subtasks 0,1 of 2 (--device auto: no CUDA device (test); "
                    + "using the CPU backend)"), EngineDevices.read(client, id, Duration.ofSeconds(30)));
        } finally {
            job.cancel().get();
        }
        assertEquals("CANCELED", client.awaitState(id, Set.of("CANCELED"), Duration.ofSeconds(30)));
    }

    @Test
    void aTimeLimitThatPassesFirstSaysWhatTheTasksWereDoing() throws Exception {
        JobClient job = submit(new SlowOpen(), "slow-open");
        String id = job.getJobID().toHexString();
        try {
            JobWatch.Outcome outcome = new JobWatch(client, id).untilStarted(Duration.ofMillis(200), line -> { });
            assertEquals(JobWatch.Start.TIMED_OUT, outcome.start(), outcome.toString());
            assertFalse(outcome.tasksText().equals("2 RUNNING"), outcome.toString());
        } finally {
            job.cancel().get();
        }
    }
}
