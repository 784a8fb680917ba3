package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.infer.EngineSpec;
import io.inferstream.jobs.infer.SharedEngines;
import io.inferstream.jobs.testing.ExactlyOnce;
import io.inferstream.jobs.testing.FinishedParquet;
import io.inferstream.jobs.testing.FlinkTestCluster;
import io.inferstream.jobs.testing.KafkaTestBroker;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.jobs.wire.JsonRecordCodec;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.SamplingOptions;
import io.inferstream.schema.Task;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The streaming job end to end with the real stories260K model, the embedded Kafka broker and a Flink
 * MiniCluster (two inference subtasks sharing one engine): 500 requests of all four tasks in, each id
 * exactly once in the committed result topic and in the Parquet files, token counts and timings filled in,
 * most results computed in batches, and greedy generations equal to the same prompt run alone on an engine.
 */
class StreamingInferenceJobTest {
    private static final int REQUESTS = 500;
    private static final int MAX_NEW_TOKENS = 10;
    private static final String[] OPENINGS = {
        "Once upon a time, there was a little girl named Lily.",
        "One day, a big dog found a ball in the park.",
        "Tom and his mom went to the store to buy some apples.",
        "The sun was shining and the birds were singing.",
        "A little cat wanted to play with the red ball.",
    };

    @RegisterExtension
    static final MiniClusterExtension FLINK = FlinkTestCluster.extension();

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    static InferenceRequest request(int i) {
        Task task = SampleRequests.taskFor(i);
        InferenceRequest.Builder b = SampleRequests.valid(String.format("req-%03d", i), task)
                .setText(OPENINGS[(i / 4) % OPENINGS.length] + (i % 3 == 0 ? "" : " It was day " + i + "."));
        if (task == Task.GENERATE && i % 8 == 3) {
            // greedy, the job's default length: checked against a reference
            b.setSampling(SamplingOptions.newBuilder().setTemperature(0.0).build()).setMaxNewTokens(null);
        }
        return b.build();
    }

    @Test
    @Timeout(150)
    void everyRequestOfEveryTaskGetsOneBatchedResultInKafkaAndParquet(@TempDir Path out) throws Exception {
        runJobAndCheck(KAFKA, out);
    }

    /**
     * Runs the job on the 500 requests with the given extra job arguments (the GPU variant passes
     * {@code --device cuda}) and checks every result; the caller registers the broker and the MiniCluster.
     */
    static void runJobAndCheck(KafkaTestBroker kafka, Path out, String... extraArgs) throws Exception {
        kafka.createTopics("prompts", 2, "results", 2, "dead-letters");
        Map<String, InferenceRequest> requests = new HashMap<>();
        List<byte[]> payloads = new ArrayList<>();
        SingleObjectCodec<InferenceRequest> avro = SingleObjectCodec.of(InferenceRequest.class);
        JsonRecordCodec<InferenceRequest> json = JsonRecordCodec.of(InferenceRequest.class);
        for (int i = 0; i < REQUESTS; i++) {
            InferenceRequest r = request(i);
            requests.put(r.getId(), r);
            payloads.add(i % 2 == 0 ? avro.encode(r) : json.encode(r));
        }
        kafka.produce("prompts", payloads);

        Path model = SharedModels.require("stories260K/stories260K.gguf");
        StreamingInferenceJob job = new StreamingInferenceJob();
        List<String> args = new ArrayList<>(List.of("--bootstrap-servers", kafka.bootstrapServers(), "--group-id", "job-test",
                "--output", out.toUri().toString(), "--model", model.toString(), "--bounded", "--parallelism", "2",
                "--max-new-tokens", Integer.toString(MAX_NEW_TOKENS), "--max-new-tokens-cap", Integer.toString(MAX_NEW_TOKENS),
                "--checkpoint-interval", "1s", "--capacity", "64"));
        args.addAll(List.of(extraArgs));
        new CommandLine(job).parseArgs(args.toArray(String[]::new));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.inference.configure(env);
        job.pipeline(model.toAbsolutePath().toString()).addTo(env);
        long t0 = System.nanoTime();
        env.execute("streaming-job-test");
        System.out.printf("job ran in %d ms %s%n", (System.nanoTime() - t0) / 1_000_000, List.of(extraArgs));

        EngineSpec spec = job.inference.engineSpec(model.toAbsolutePath().toString(), model.toString());
        assertEquals(0, SharedEngines.references(spec), "the last operator closed the shared engine");

        SingleObjectCodec<InferenceResult> codec = SingleObjectCodec.of(InferenceResult.class);
        List<InferenceResult> kafkaResults = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : kafka.read("results", REQUESTS)) {
            InferenceResult result = codec.decode(r.value());
            assertEquals(result.getId(), new String(r.key(), StandardCharsets.UTF_8));
            kafkaResults.add(result);
        }
        ExactlyOnce.assertEachIdOnce(requests.keySet(), kafkaResults, "result topic");
        ExactlyOnce.assertEachIdOnce(requests.keySet(), FinishedParquet.read(out), "Parquet files");
        assertTrue(kafka.read("dead-letters", 0).isEmpty(), "no valid request is dead-lettered");

        int batched = 0;
        int reported = 0;
        for (InferenceResult r : kafkaResults) {
            InferenceRequest q = requests.get(r.getId());
            String what = r.getId() + " (" + r.getTask() + ")";
            assertEquals(q.getTask(), r.getTask(), what);
            assertEquals(q.getMetadata(), r.getMetadata(), what);
            assertNull(r.getError(), what);
            assertTrue(r.getPromptTokens() > 0, what + " prompt tokens");
            assertTrue(r.getQueueMs() >= 0 && r.getComputeMs() >= 0, what + " timings");
            assertTrue(r.getModel().endsWith("stories260K.gguf"), what + " model " + r.getModel());
            if (r.getTask() == Task.CLASSIFY) {
                assertEquals(FinishReason.STOP, r.getFinishReason(), what);
                assertTrue(q.getLabels().contains(r.getLabel()), what + " label " + r.getLabel());
                double sum = r.getLabelProbabilities().values().stream().mapToDouble(Double::doubleValue).sum();
                assertEquals(1.0, sum, 1e-9, what + " probabilities sum to 1");
                assertEquals(r.getLabelProbabilities().entrySet().stream().max(Map.Entry.comparingByValue()).get().getKey(),
                        r.getLabel(), what + " label is the most probable");
                assertTrue(r.getBatchSize() >= 1, what + " batch size of the label scoring reported");
            } else {
                assertTrue(r.getFinishReason() == FinishReason.STOP || r.getFinishReason() == FinishReason.LENGTH, what);
                assertTrue(r.getCompletionTokens() >= 1 && r.getCompletionTokens() <= MAX_NEW_TOKENS, what + " completion tokens");
                assertNotNull(r.getOutput(), what);
                assertTrue(r.getComputeMs() + r.getQueueMs() > 0, what + " took time");
                assertTrue(r.getBatchSize() >= 1, what + " batch size reported");
            }
            if (r.getBatchSize() > 0) {
                reported++;
            }
            if (r.getBatchSize() > 1) {
                batched++;
            }
        }
        System.out.printf("%d of %d results (%d reporting a batch size) ran in batches%n", batched, REQUESTS, reported);
        assertTrue(batched > REQUESTS / 2, "most results batched: " + batched + " of " + REQUESTS);
        assertEquals(REQUESTS, reported, "every result reports its batch size");
        assertTrue(batched > reported * 9 / 10, "nearly all batch sizes > 1: " + batched + " of " + reported);

        // Greedy generations equal the same prompt (text + BOS) run alone on a fresh engine.
        try (GgufFile file = GgufFile.open(model); LlamaModel lm = LlamaModel.load(file)) {
            Tokenizer tokenizer = Tokenizers.fromGguf(file);
            try (Engine alone = new Engine(lm, tokenizer, EngineConfig.defaults())) {
                int checked = 0;
                for (InferenceResult r : kafkaResults) {
                    InferenceRequest q = requests.get(r.getId());
                    boolean greedy = q.getSampling() != null && q.getSampling().getTemperature() == 0.0;
                    if (q.getTask() != Task.GENERATE || !greedy || checked >= 12) {
                        continue;
                    }
                    Completion c = alone.submit(Request.builder(tokenizer.encode(q.getText())).id("ref-" + q.getId())
                            .params(SamplingParams.greedy(MAX_NEW_TOKENS)).build()).get();
                    assertEquals(c.text().strip(), r.getOutput(), "greedy output of " + q.getId());
                    assertEquals(c.promptTokens(), r.getPromptTokens(), "prompt tokens of " + q.getId());
                    checked++;
                }
                assertEquals(12, checked);
            }
        }
    }
}
