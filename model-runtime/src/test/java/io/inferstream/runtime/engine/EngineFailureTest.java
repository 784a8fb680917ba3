package io.inferstream.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.ForwardingModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A failed step fails its requests alone while the model can still run; when the model cannot (a GPU whose context
 * was lost), or the step loop itself dies, the engine fails as a whole and says so through {@link Engine#failure()}.
 */
class EngineFailureTest {

    private static final int[] PROMPT = {1, 403, 407, 261};
    private static LanguageModel stories;

    @BeforeAll
    static void load() {
        stories = TestModels.stories260K();
    }

    @AfterAll
    static void close() {
        if (stories != null) {
            stories.close();
        }
    }

    /** stories260K with faults injected: the next forward throws what {@link #failNext} holds; {@link #lost} is its account. */
    static final class FaultyModel extends ForwardingModel {
        final AtomicReference<Throwable> failNext = new AtomicReference<>();
        volatile String lost;

        FaultyModel(LanguageModel inner) {
            super(inner);
        }

        @Override
        public float[] forward(TokenBatch batch, KvStore kv) {
            Throwable t = failNext.getAndSet(null);
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            return super.forward(batch, kv);
        }

        @Override
        public Optional<String> unusable() {
            return Optional.ofNullable(lost);
        }

        @Override
        public void close() {
            // the shared stories260K is closed once, after all tests
        }
    }

    private static Request greedy(String id, int tokens) {
        return Request.builder(PROMPT).id(id).params(SamplingParams.greedy(tokens)).build();
    }

    @Test
    void aFailedStepOnAModelThatCanStillRunFailsThatStepsRequestsOnly() {
        FaultyModel model = new FaultyModel(stories);
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            int[] reference = engine.submit(greedy("reference", 20)).join().tokens();
            model.failNext.set(new IllegalStateException("a kernel refused its arguments"));
            Completion failed = engine.submit(greedy("failed", 20)).join();
            assertEquals(FinishReason.ERROR, failed.finishReason());
            assertTrue(failed.message().contains("model forward failed") && failed.message().contains("refused its arguments"),
                    failed.message());
            assertTrue(engine.failure().isEmpty(), "the model can still run: the engine has not failed");
            Completion after = engine.submit(greedy("after", 20)).join();
            assertEquals(FinishReason.LENGTH, after.finishReason(), after.message());
            assertArrayEquals(reference, after.tokens(), "the engine carries on with the same tokens");
        }
    }

    @Test
    void aFailedStepOnAModelThatCannotRunAnyMoreFailsTheEngineAndEveryRequestWithTheReason() {
        FaultyModel model = new FaultyModel(stories);
        // two sequences at a time: the others wait, and must not be left hanging when the engine fails
        try (Engine engine = new Engine(model, null, EngineConfig.defaults().withMaxSequences(2))) {
            assertEquals(FinishReason.LENGTH, engine.submit(greedy("before", 5)).join().finishReason());
            model.lost = "cuda:0 was lost: CUDA_ERROR_ILLEGAL_ADDRESS";
            model.failNext.set(new IllegalStateException("CUDA_ERROR_ILLEGAL_ADDRESS"));
            List<CompletableFuture<Completion>> pending = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                pending.add(engine.submit(greedy("r" + i, 40)));
            }
            for (CompletableFuture<Completion> f : pending) {
                Completion c = f.join();
                assertEquals(FinishReason.ERROR, c.finishReason(), c.requestId());
                assertTrue(c.message().startsWith("engine failed: model forward failed")
                        && c.message().contains("cuda:0 was lost"), c.message());
            }
            assertTrue(engine.failure().isPresent());
            assertTrue(engine.failure().get().contains("the model can no longer run: cuda:0 was lost"), engine.failure().get());
            Completion later = engine.submit(greedy("later", 5)).join();
            assertEquals(FinishReason.ERROR, later.finishReason());
            assertEquals(engine.failure().get(), later.message(), "a later request is told why at once");
            ContinuationScore score = engine.submitScore(new int[] {1, 403}, new int[] {407}).join();
            assertEquals(FinishReason.ERROR, score.finishReason());
        }
    }

    @Test
    void anErrorInTheStepLoopFailsTheEngine() {
        FaultyModel model = new FaultyModel(stories);
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            model.failNext.set(new OutOfMemoryError("Java heap space (injected)"));
            Completion c = engine.submit(greedy("oom", 10)).join();
            assertEquals(FinishReason.ERROR, c.finishReason());
            assertTrue(engine.failure().isPresent() && engine.failure().get().contains("Java heap space"),
                    String.valueOf(engine.failure()));
            assertEquals(engine.failure().get(), c.message());
        }
    }
}
