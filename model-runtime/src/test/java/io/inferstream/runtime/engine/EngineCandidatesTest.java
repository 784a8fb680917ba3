package io.inferstream.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.sampling.SamplingParams;

/**
 * Steps served from each row's best logits (LanguageModel.forwardCandidates) generate exactly what steps with
 * full logits generate: the same tokens and bitwise the same log-probs for greedy, top-k, top-p, min-p and
 * seeded-temperature requests batched together (stories260K, real weights); a step that holds a request with a
 * repetition penalty, or a scoring request, takes the full logits.
 */
class EngineCandidatesTest {

    private static final SamplingParams BASE = SamplingParams.greedy(20).withLogprobs(true);

    static final List<SamplingParams> FROM_CANDIDATES = List.of(
            BASE,
            BASE.withTemperature(0.8f).withTopK(40).withSeed(1),
            BASE.withTemperature(1f).withTopP(0.9f).withSeed(2),
            BASE.withTemperature(1f).withMinP(0.05f).withSeed(3),
            BASE.withTemperature(1.3f).withTopK(10).withSeed(4),
            BASE.withTemperature(0.7f).withTopK(100).withTopP(0.8f).withMinP(0.02f).withSeed(5));

    static final SamplingParams PENALTY = BASE.withTemperature(0.9f).withTopK(40).withRepetitionPenalty(1.3f).withSeed(6);

    /**
     * The real model, whose first step waits until the test has submitted everything: then both runs batch the
     * requests the same way (batched kernels may round differently in another batch). Records each step's path.
     */
    static final class GatedModel implements LanguageModel {
        final LanguageModel model;
        final CountDownLatch gate = new CountDownLatch(1);
        final CountDownLatch entered = new CountDownLatch(1);
        final List<Integer> steps = new ArrayList<>(); // k per step; 0 for full logits

        GatedModel(LanguageModel model) {
            this.model = model;
        }

        private void await() {
            entered.countDown();
            try {
                assertTrue(gate.await(60, TimeUnit.SECONDS), "the test released the first step");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        @Override
        public ModelConfig config() {
            return model.config();
        }

        @Override
        public float[] forward(TokenBatch batch, KvStore kv) {
            await();
            steps.add(0);
            return model.forward(batch, kv);
        }

        @Override
        public LogitCandidates forwardCandidates(TokenBatch batch, KvStore kv, int k) {
            await();
            steps.add(k);
            return model.forwardCandidates(batch, kv, k);
        }

        @Override
        public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
            return model.newKvStore(numBlocks, blockSize, precision);
        }
    }

    record Run(List<Completion> completions, ContinuationScore score, List<Integer> steps) {
    }

    /** One engine over {@code params} (one request each, after a greedy opener that holds the first step), plus an optional scoring request. */
    static Run run(LanguageModel model, List<SamplingParams> params, boolean candidates, boolean score) {
        GatedModel gated = new GatedModel(model);
        EngineConfig config = EngineConfig.defaults().withMaxBatchedTokens(64).withLogitCandidates(candidates);
        SplittableRandom rnd = new SplittableRandom(5);
        int vocab = model.config().vocabSize();
        try (Engine engine = new Engine(gated, null, config)) {
            List<CompletableFuture<Completion>> futures = new ArrayList<>();
            futures.add(engine.submit(Request.builder(new int[] {1, 403, 407}).id("opener").params(BASE).build()));
            try {
                assertTrue(gated.entered.await(60, TimeUnit.SECONDS), "the opener's first step started");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            for (int i = 0; i < params.size(); i++) {
                futures.add(engine.submit(Request.builder(TestModels.randomPrompt(rnd, 5 + 7 * i, vocab)).id("r" + i)
                        .params(params.get(i)).build()));
            }
            CompletableFuture<ContinuationScore> scored = score
                    ? engine.submitScore("score", TestModels.randomPrompt(rnd, 30, vocab), TestModels.randomPrompt(rnd, 6, vocab), 0)
                    : null;
            gated.gate.countDown();
            List<Completion> done = new ArrayList<>();
            for (CompletableFuture<Completion> f : futures) {
                Completion c = f.join();
                assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
                done.add(c);
            }
            return new Run(done, scored == null ? null : scored.join(), gated.steps);
        }
    }

    private static void assertSameOutputs(Run full, Run fromCandidates) {
        for (int i = 0; i < full.completions().size(); i++) {
            Completion a = full.completions().get(i);
            Completion b = fromCandidates.completions().get(i);
            assertArrayEquals(a.tokens(), b.tokens(), a.requestId() + " tokens");
            assertArrayEquals(a.logprobs(), b.logprobs(), 0f, a.requestId() + " log-probs");
            assertTrue(b.maxBatchSize() > 1, b.requestId() + " ran in a batch");
        }
    }

    @Test
    void candidateStepsGenerateTheFullLogitsTokensAndLogprobs() {
        try (LanguageModel model = TestModels.stories260K()) {
            Run full = run(model, FROM_CANDIDATES, false, false);
            Run fromCandidates = run(model, FROM_CANDIDATES, true, false);
            assertSameOutputs(full, fromCandidates);
            assertTrue(full.steps().stream().allMatch(k -> k == 0), "off: every step took the full logits");
            // top-p and min-p over the vocabulary ask for the most candidates; a step of the opener alone for 1
            assertEquals(List.of(1), fromCandidates.steps().subList(0, 1), "the opener's first step, alone: greedy, 1 candidate");
            assertTrue(fromCandidates.steps().stream().allMatch(k -> k > 0), "every step was served by candidates: " + fromCandidates.steps());
            assertTrue(fromCandidates.steps().contains(LogitCandidates.MAX_K), "top-p steps ask for " + LogitCandidates.MAX_K);
        }
    }

    @Test
    void stepsWithARepetitionPenaltyOrAScoringRequestTakeTheFullLogits() {
        try (LanguageModel model = TestModels.stories260K()) {
            List<SamplingParams> withPenalty = new ArrayList<>(FROM_CANDIDATES);
            withPenalty.add(PENALTY);
            Run full = run(model, withPenalty, false, true);
            Run mixed = run(model, withPenalty, true, true);
            assertSameOutputs(full, mixed);
            assertArrayEquals(full.score().logprobs(), mixed.score().logprobs(), 0f, "continuation log-probs");
            assertEquals(FinishReason.STOP, mixed.score().finishReason(), mixed.score().message());
            assertEquals(full.steps().size(), mixed.steps().size(), "the same schedule");
            // while the penalty request runs every step needs full logits; the opener alone (first step) does not
            assertEquals(1, mixed.steps().get(0));
            int fullSteps = (int) mixed.steps().stream().filter(k -> k == 0).count();
            assertTrue(fullSteps >= PENALTY.maxNewTokens(), "the penalty request's steps took full logits: " + mixed.steps());
            // once it is done, the others (if still running) go back to candidates; here: any candidate step beyond the first
            assertTrue(mixed.steps().subList(1, mixed.steps().size()).contains(0));
        }
    }
}
