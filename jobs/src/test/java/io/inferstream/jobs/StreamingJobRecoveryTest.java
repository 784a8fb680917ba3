package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.jobs.infer.InferenceStage;
import io.inferstream.jobs.infer.LoadedModel;
import io.inferstream.jobs.infer.SharedEngines;
import io.inferstream.jobs.testing.ExactlyOnce;
import io.inferstream.jobs.testing.FailOnce;
import io.inferstream.jobs.testing.FinishedParquet;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.jobs.testing.LosesDeviceOnce;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Exactly-once across a failure: the streaming job with the real model, checkpoints every second, and an
 * operator after inference that throws once mid-stream (after a completed checkpoint). The job restarts
 * (fixed-delay, this test only) from the checkpoint, re-submitting the requests that were in flight; in the
 * end every id is exactly once in the committed result topic and in the finished Parquet files. The same when
 * what fails is the engine itself (its model's device lost mid-stream): the task fails instead of turning every
 * later request into an ERROR result, and the restart runs them on a newly loaded engine.
 */
class StreamingJobRecoveryTest {
    private static final int REQUESTS = 300;

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    @Timeout(180)
    void afterAFailureMidStreamEveryIdIsCommittedExactlyOnce(@TempDir Path out) throws Exception {
        FailOnce.reset();
        run("", out, requests -> requests.map(new FailOnce<InferenceResult>(REQUESTS / 4)).name("fail-once").uid("fail-once"));
        assertTrue(FailOnce.failed(), "the injected failure happened");
    }

    @Test
    @Timeout(180)
    void anEngineLostMidStreamFailsTheTaskAndTheRestartRunsEveryRequestOnANewEngine(@TempDir Path out) throws Exception {
        LosesDeviceOnce.reset();
        AtomicInteger loads = new AtomicInteger();
        SharedEngines.Loader previous = SharedEngines.useLoader((spec, placement) -> {
            loads.incrementAndGet();
            return LoadedModel.load(spec, placement, model -> new LosesDeviceOnce(model, 40));
        });
        try {
            run("lost-", out, requests -> requests);
        } finally {
            SharedEngines.useLoader(previous);
        }
        assertTrue(LosesDeviceOnce.happened(), "the injected device loss happened");
        assertTrue(loads.get() >= 2, "a new engine was loaded after the loss: " + loads.get() + " loads");
    }

    /** The job over REQUESTS requests, {@code after} applied to its results; checks every id once and no errors. */
    private void run(String prefix, Path out, Function<DataStream<InferenceResult>, DataStream<InferenceResult>> after)
            throws Exception {
        String prompts = prefix + "prompts";
        String results = prefix + "results";
        String deadLetters = prefix + "dead-letters";
        KAFKA.createTopics(prompts, 2, results, 2, deadLetters);
        Set<String> ids = new HashSet<>();
        List<byte[]> payloads = new ArrayList<>();
        SingleObjectCodec<InferenceRequest> avro = SingleObjectCodec.of(InferenceRequest.class);
        for (int i = 0; i < REQUESTS; i++) {
            InferenceRequest r = StreamingInferenceJobTest.request(i);
            ids.add(r.getId());
            payloads.add(avro.encode(r));
        }
        KAFKA.produce(prompts, payloads);

        Path model = SharedModels.require("stories260K/stories260K.gguf");
        StreamingInferenceJob job = new StreamingInferenceJob();
        new CommandLine(job).parseArgs("--model", model.toString(), "--parallelism", "2", "--max-new-tokens", "8",
                "--max-new-tokens-cap", "8", "--checkpoint-interval", "1s", "--capacity", "16");
        Configuration restarts = new Configuration();
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(500));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(restarts);
        job.inference.configure(env);
        InferenceStage inference = job.inference.stage(model.toAbsolutePath().toString(), model.toString());
        RequestPipeline.builder()
                .bootstrapServers(KAFKA.bootstrapServers())
                .requestTopics(prompts)
                .resultTopic(results)
                .deadLetterTopic(deadLetters)
                .groupId(prefix + "recovery")
                .transactionalIdPrefix(prefix + "recovery")
                .parquetPath(out.toUri().toString())
                .bounded(true)
                .decoder(new RequestDecoder(job.inference.validator()))
                .inference(requests -> after.apply(inference.apply(requests)))
                .build()
                .addTo(env);
        long t0 = System.nanoTime();
        env.execute(prefix + "recovery-test");
        System.out.printf("job with one failure ran in %d ms%n", (System.nanoTime() - t0) / 1_000_000);

        List<InferenceResult> committed = KAFKA.read(results, REQUESTS, InferenceResult.class);
        ExactlyOnce.assertEachIdOnce(ids, committed, "committed result topic");
        ExactlyOnce.assertEachIdOnce(ids, FinishedParquet.read(out), "finished Parquet files");
        for (InferenceResult r : committed) {
            assertTrue(r.getFinishReason() != FinishReason.ERROR, r.getId() + ": " + r.getError());
        }
        assertEquals(0, KAFKA.read(deadLetters, 0).size());
    }
}
