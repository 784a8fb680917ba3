package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.EngineMetrics;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** CLASSIFY on stories260K: label probabilities against a teacher-forced forward pass outside the engine. */
class ClassificationTaskTest {

    private static final String TEXT = "Lily found a little dog in the park and she was very happy.";
    private static final List<String> LABELS = List.of("happy", "sad", "angry", "scared");

    private static LlamaModel model;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        model = Stories260K.model();
        tokenizer = Stories260K.tokenizer();
    }

    /**
     * log p(tokens[from..] | tokens[..from]) by one teacher-forced forward pass over all tokens with a fresh
     * KV store, log-softmax in double.
     */
    private static double referenceLogLikelihood(int[] tokens, int from) {
        int n = tokens.length;
        int blockSize = 16;
        int blocks = (n + blockSize - 1) / blockSize;
        KvStore kv = model.newKvStore(blocks, blockSize, KvStore.Precision.F32);
        int[] positions = new int[n];
        int[] seq = new int[n];
        int[] table = new int[blocks];
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
            rows[i] = i;
        }
        for (int b = 0; b < blocks; b++) {
            table[b] = b;
        }
        int vocab = model.config().vocabSize();
        float[] logits = model.forward(new TokenBatch(tokens, positions, seq, new int[][] {table}, rows), kv);
        double sum = 0;
        for (int i = from; i < n; i++) {
            int row = (i - 1) * vocab; // the logits after token i-1 predict token i
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[row + v]);
            }
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[row + v] - max);
            }
            sum += logits[row + tokens[i]] - max - Math.log(z);
        }
        return sum;
    }

    private static TaskRequest request(String id) {
        return TaskRequest.builder(id, Task.CLASSIFY, TEXT).labels(LABELS).build();
    }

    @Test
    void labelProbabilitiesEqualTeacherForcedLikelihoodsAndThePromptIsComputedOnce() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(), TaskDefaults.standard(), "stories260K");
            EngineMetrics before = engine.metrics();
            TaskResult result = runner.run(request("c-1")).join();
            EngineMetrics after = engine.metrics();
            assertEquals(FinishReason.STOP, result.finishReason(), result.error());

            // The reference scores each label as the text "prompt label" really tokenizes.
            String promptText = "Classify the text as one of: happy, sad, angry, scared.\n\nText: " + TEXT + "\nLabel:";
            assertEquals(promptText, runner.prompts().build(request("c-1"), TEXT).text());
            int[] prompt = tokenizer.encode(promptText);
            double[] reference = new double[LABELS.size()];
            int labelTokens = 0;
            for (int l = 0; l < LABELS.size(); l++) {
                int[] joint = tokenizer.encode(promptText + " " + LABELS.get(l));
                assertArrayEquals(prompt, Arrays.copyOf(joint, prompt.length), "the prompt's tokens start the joint text");
                reference[l] = referenceLogLikelihood(joint, prompt.length);
                labelTokens += joint.length - prompt.length;
            }
            double max = Arrays.stream(reference).max().orElseThrow();
            double z = Arrays.stream(reference).map(x -> Math.exp(x - max)).sum();
            double total = 0;
            int best = 0;
            for (int l = 0; l < LABELS.size(); l++) {
                double expected = Math.exp(reference[l] - max) / z;
                double p = result.labelProbabilities().get(LABELS.get(l));
                assertEquals(expected, p, 1e-4, "probability of " + LABELS.get(l));
                total += p;
                best = reference[l] > reference[best] ? l : best;
            }
            assertEquals(1.0, total, 1e-9);
            assertEquals(LABELS, List.copyOf(result.labelProbabilities().keySet()), "probabilities in label order");
            assertEquals(LABELS.get(best), result.label());
            assertEquals(LABELS.get(best), result.output());

            // The prompt is computed once: each later label computes only the prompt's last partial block and itself.
            long computed = after.promptTokensComputed() - before.promptTokensComputed();
            int partial = prompt.length % EngineConfig.DEFAULT_BLOCK_SIZE;
            int others = LABELS.size() - 1;
            assertTrue(computed >= prompt.length + labelTokens - LABELS.size(), "computed " + computed);
            assertTrue(computed <= prompt.length + labelTokens + (long) others * partial,
                    "computed " + computed + " prompt tokens; prompt " + prompt.length + ", labels " + labelTokens);
            long hits = after.prefixHitTokens() - before.prefixHitTokens();
            assertEquals((long) others * (prompt.length - partial), hits, "every later label found the prompt's full blocks");
            assertTrue(hits > 0);
            assertEquals(prompt.length + labelTokens - LABELS.size(), result.promptTokens(),
                    "the result counts the prompt once and each label's tokens but its last (which is only predicted)");
        }
    }

    @Test
    void lengthNormalisedScoresAreMeanTokenLikelihoodsAndMultiLabelKeepsLabelsAtTheThreshold() {
        TaskDefaults defaults = TaskDefaults.standard().withLengthNormalized(true).withMultiLabel(true, 0.2);
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(), defaults, "stories260K");
            TaskResult result = runner.run(request("c-2")).join();
            assertEquals(FinishReason.STOP, result.finishReason(), result.error());
            String promptText = runner.prompts().build(request("c-2"), TEXT).text();
            int[] prompt = tokenizer.encode(promptText);
            double[] mean = new double[LABELS.size()];
            for (int l = 0; l < LABELS.size(); l++) {
                int[] joint = tokenizer.encode(promptText + " " + LABELS.get(l));
                mean[l] = referenceLogLikelihood(joint, prompt.length) / (joint.length - prompt.length);
            }
            double max = Arrays.stream(mean).max().orElseThrow();
            double z = Arrays.stream(mean).map(x -> Math.exp(x - max)).sum();
            for (int l = 0; l < LABELS.size(); l++) {
                assertEquals(Math.exp(mean[l] - max) / z, result.labelProbabilities().get(LABELS.get(l)), 1e-4);
            }
            List<String> expected = LABELS.stream()
                    .filter(l -> result.labelProbabilities().get(l) >= 0.2)
                    .sorted((a, b) -> Double.compare(result.labelProbabilities().get(b), result.labelProbabilities().get(a)))
                    .toList();
            assertFalse(expected.isEmpty());
            assertEquals(expected, result.labels());
            assertEquals(String.join(", ", expected), result.output());
        }
    }

    @Test
    void badRequestsFinishWithErrorAndAReasonInsteadOfThrowing() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(), TaskDefaults.standard(), "stories260K");
            assertError(runner.run(TaskRequest.builder("b-1", Task.CLASSIFY, "text").build()), "has no labels");
            assertError(runner.run(TaskRequest.builder("b-2", Task.CLASSIFY, "text").labels(List.of("a", "a")).build()), "repeats a label");
            assertError(runner.run(TaskRequest.builder("b-3", Task.SUMMARIZE, "  ").build()), "has no text");
            assertError(runner.run(TaskRequest.builder("b-4", Task.TRANSLATE, "Hello.").build()), "no target_language");
            assertError(runner.run(TaskRequest.builder("b-5", Task.TRANSLATE, "Hello.").targetLanguage("qqx").build()), "unknown language code 'qqx'");
            assertError(runner.run(TaskRequest.builder("b-6", null, "Hello.").build()), "has no task");
            assertError(runner.run(TaskRequest.builder("b-7", Task.GENERATE, "Once").maxNewTokens(0).build()), "at least 1");
            assertError(runner.run(TaskRequest.builder("b-8", Task.GENERATE, "Once").numBeams(2).build()), "beam search");
            assertError(runner.run(null), "null");
        }
    }

    private static void assertError(java.util.concurrent.CompletableFuture<TaskResult> future, String reason) {
        TaskResult r = future.join();
        assertEquals(FinishReason.ERROR, r.finishReason());
        assertTrue(r.error().contains(reason), "error '" + r.error() + "' should mention '" + reason + "'");
    }
}
