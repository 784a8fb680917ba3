package io.inferstream.runtime.engine;

import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/** Cancellation, deadlines, requests that can never fit, streaming and shutdown. */
class EngineLifecycleTest {

    private static LanguageModel model;

    @BeforeAll
    static void load() {
        model = TestModels.stories260K();
    }

    @AfterAll
    static void close() {
        if (model != null) { // null: load() was skipped (no shared data here)
            model.close();
        }
    }

    private static final int[] PROMPT = {1, 403, 407, 261};

    private final java.util.concurrent.atomic.AtomicInteger cancelListenerCalls = new java.util.concurrent.atomic.AtomicInteger();

    @Test
    void cancelDeadlineAndNeverFitsFinishWithTheirReasonsWhileOthersContinue() {
        int[] reference;
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            reference = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(60)).build()).join().tokens();
        }
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            CompletableFuture<Completion> normal = engine.submit(Request.builder(PROMPT).id("normal")
                    .params(SamplingParams.greedy(60)).build());
            // Cancelled from its own listener after 5 tokens.
            CompletableFuture<Completion> cancelled = engine.submit(Request.builder(PROMPT).id("cancel-me")
                    .params(SamplingParams.greedy(400))
                    .listener((id, token, text) -> {
                        if (cancelListenerCalls.incrementAndGet() == 5) {
                            engine.cancel(id);
                        }
                    }).build());
            // Slowed down by its listener so that 300 tokens take well over its 200 ms deadline.
            CompletableFuture<Completion> late = engine.submit(Request.builder(PROMPT).id("late")
                    .params(SamplingParams.greedy(300)).deadline(Duration.ofMillis(200))
                    .listener((id, token, text) -> sleep(2)).build());
            CompletableFuture<Completion> tooLong = engine.submit(Request.builder(PROMPT).id("too-long")
                    .params(SamplingParams.greedy(model.config().contextLength())).build());

            Completion tl = tooLong.join();
            assertEquals(FinishReason.ERROR, tl.finishReason());
            assertTrue(tl.message().contains("context length"), tl.message());
            assertEquals(0, tl.generatedTokens());

            Completion c = cancelled.join();
            assertEquals(FinishReason.CANCELLED, c.finishReason());
            assertTrue(c.generatedTokens() >= 5 && c.generatedTokens() < 400, "stopped early: " + c.generatedTokens());

            Completion d = late.join();
            assertEquals(FinishReason.DEADLINE, d.finishReason());
            assertTrue(d.generatedTokens() < 300);

            Completion n = normal.join();
            assertEquals(FinishReason.LENGTH, n.finishReason());
            assertArrayEquals(reference, n.tokens(), "the others did not disturb it");
            assertFalse(engine.cancel("normal"), "a finished request is no longer in flight");
            EngineMetrics m = engine.metrics();
            assertEquals(1, m.cancelled());
            assertEquals(1, m.deadlineExceeded());
            assertEquals(engine.numKvBlocks(), m.kvBlocksFree(), "the cancelled and late requests' blocks are free");
        }
    }

    @Test
    void aScoringPastItsDeadlineFinishesWithDeadlineAndFreesItsBlocks() {
        int[] continuation = {403, 407, 261, 403};
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            ContinuationScore onTime = engine.submitScore("on-time", new int[] {1}, continuation, 0,
                    System.nanoTime() + Duration.ofMinutes(1).toNanos()).join();
            assertEquals(FinishReason.STOP, onTime.finishReason());
            assertEquals(continuation.length, onTime.logprobs().length);
            // Held behind a slow generation (its listener sleeps on the step thread), the scoring is still waiting at its deadline.
            CompletableFuture<Completion> slow = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(40))
                    .listener((id, t, s) -> sleep(5)).build());
            int[] longPrefix = new int[600]; // longer than one step's token budget (512): its prefill spans steps
            longPrefix[0] = 1;
            for (int i = 1; i < longPrefix.length; i++) {
                longPrefix[i] = PROMPT[1 + i % 3];
            }
            ContinuationScore late = engine.submitScore("late", longPrefix, continuation, 0, System.nanoTime() + 1_000_000).join();
            assertEquals(FinishReason.DEADLINE, late.finishReason(), late.message());
            assertEquals(0, late.logprobs().length);
            assertEquals(FinishReason.LENGTH, slow.join().finishReason());
            EngineMetrics m = engine.metrics();
            assertEquals(1, m.deadlineExceeded());
            assertEquals(0, m.running() + m.waiting());
            assertEquals(engine.numKvBlocks(), m.kvBlocksFree());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void requestLargerThanTheWholeCacheFailsAtOnceWithAClearMessage() {
        try (Engine engine = new Engine(model, null, EngineConfig.defaults().withKvCacheBytes(4 * 20480))) {
            assertEquals(4, engine.numKvBlocks(), "stories260K: 2 x 5 layers x 32 x 16 positions x 4 bytes per block");
            Completion c = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(100)).build()).join();
            assertEquals(FinishReason.ERROR, c.finishReason());
            assertTrue(c.message().contains("KV blocks") && c.message().contains("--kv-cache-memory"), c.message());
            Completion ok = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(20)).build()).join();
            assertEquals(FinishReason.LENGTH, ok.finishReason(), "the engine carries on");
        }
    }

    @Test
    void streamingListenerSeesEveryTokenInOrder() {
        List<Integer> streamed = new CopyOnWriteArrayList<>();
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            Completion c = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(25))
                    .listener((id, token, text) -> streamed.add(token)).build()).join();
            assertArrayEquals(c.tokens(), streamed.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    @Test
    void stopTokenEndsGenerationWithStop() {
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            int[] free = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(30)).build()).join().tokens();
            int stop = free[10];
            int firstAt = 0;
            while (free[firstAt] != stop) {
                firstAt++;
            }
            Completion c = engine.submit(Request.builder(PROMPT)
                    .params(SamplingParams.greedy(30).withStopTokens(List.of(stop))).build()).join();
            assertEquals(FinishReason.STOP, c.finishReason());
            assertArrayEquals(java.util.Arrays.copyOf(free, firstAt + 1), c.tokens());
        }
    }

    @Test
    void closeDrainsPendingWorkAndShutdownNowCancelsIt() {
        List<CompletableFuture<Completion>> drained = new ArrayList<>();
        Engine engine = new Engine(model, null, EngineConfig.defaults());
        for (int i = 0; i < 6; i++) {
            drained.add(engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(30)).build()));
        }
        engine.close();
        for (CompletableFuture<Completion> f : drained) {
            assertTrue(f.isDone());
            assertEquals(FinishReason.LENGTH, f.join().finishReason());
        }
        Completion after = engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(5)).build()).join();
        assertEquals(FinishReason.ERROR, after.finishReason());
        assertTrue(after.message().contains("closed"));

        Engine other = new Engine(model, null, EngineConfig.defaults());
        CompletableFuture<Completion> pending = other.submit(Request.builder(PROMPT)
                .params(SamplingParams.greedy(1000)).listener((id, t, s) -> sleep(1)).build());
        other.shutdownNow();
        assertEquals(FinishReason.CANCELLED, pending.join().finishReason());
    }

    @Test
    void memorySizesParseInBinaryUnits() {
        assertEquals(256L << 20, EngineConfig.parseBytes("256MiB"));
        assertEquals(1L << 30, EngineConfig.parseBytes("1GiB"));
        assertEquals(512L << 10, EngineConfig.parseBytes("512K"));
        assertEquals(4096, EngineConfig.parseBytes("4096"));
        assertThrows(IllegalArgumentException.class, () -> EngineConfig.parseBytes("lots"));
        assertEquals(EngineConfig.AUTO_KV_CACHE, EngineConfig.parseBytes(" Auto "));
    }

    @Test
    void anAutoKvCacheIsTheCpuDefaultOnTheCpuAndWhatTheDeviceLeavesCappedAtFullContexts() {
        EngineConfig auto = EngineConfig.defaults().withKvCacheBytes(EngineConfig.AUTO_KV_CACHE).withMaxSequences(4);
        assertThrows(IllegalStateException.class, () -> auto.numBlocks(2, 64), "an auto budget is resolved first");
        // the CPU model has no device budget: 256 MiB, as the engine had before
        try (Engine engine = new Engine(model, null, auto)) {
            assertEquals(EngineConfig.DEFAULT_KV_CACHE_BYTES, engine.config().kvCacheBytes());
            assertEquals(EngineConfig.defaults().numBlocks(model.config().nLayers(), model.config().kvDim()), engine.numKvBlocks());
            assertEquals(engine.numKvBlocks(), engine.kvCacheSizing().blocks());
            assertTrue(engine.kvCacheSizing().toString().contains("(auto on the CPU: the default 256.0 MiB)"),
                    engine.kvCacheSizing().toString());
        }
        long perBlock = io.inferstream.runtime.kv.KvStore.bytesPerBlock(2, 64, 16, auto.kvPrecision());
        // a device with room for 10 blocks: 10 blocks; 4 sequences of 100 positions need 4 x 7 blocks: capped there
        assertEquals(10 * perBlock, auto.withKvCacheBytes(EngineConfig.AUTO_KV_CACHE)
                .resolveKvCacheFor(java.util.OptionalLong.of(10 * perBlock + 5), 2, 64, 100));
        assertEquals(28 * perBlock, auto.resolveKvCacheFor(java.util.OptionalLong.of(1000 * perBlock), 2, 64, 100));
        assertEquals(EngineConfig.DEFAULT_KV_CACHE_BYTES, auto.resolveKvCacheFor(java.util.OptionalLong.empty(), 2, 64, 100));
        // on the CPU a model whose one sequence at 8192 positions needs more than 256 MiB gets that much where the heap
        // has room: Phi-3.5-mini, 32 layers of 3072-wide keys, 786,432 bytes a position in F32, 6 GiB for 8192
        long phi35 = 8192L * 2 * 32 * 3072 * 4;
        long phiBlock = io.inferstream.runtime.kv.KvStore.bytesPerBlock(32, 3072, 16, auto.kvPrecision());
        assertEquals(phi35, auto.cpuAutoBytes(32, 3072, 131072, 64L << 30, 8L << 30));
        assertEquals((6L << 30) / 4 / phiBlock * phiBlock, auto.cpuAutoBytes(32, 3072, 131072, 6L << 30, 1L << 30),
                "a quarter of a 6 GiB heap, in whole blocks");
        assertEquals((1L << 30) / 2 / phiBlock * phiBlock, auto.cpuAutoBytes(32, 3072, 131072, 6L << 30, 5L << 30),
                "half of the free gigabyte");
        assertEquals(EngineConfig.DEFAULT_KV_CACHE_BYTES, auto.cpuAutoBytes(32, 3072, 131072, 1L << 30, 900L << 20),
                "never below the default");
        assertEquals(EngineConfig.DEFAULT_KV_CACHE_BYTES, auto.cpuAutoBytes(2, 64, 100, 64L << 30, 0),
                "a small model keeps the default");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> auto.resolveKvCacheFor(java.util.OptionalLong.of(perBlock - 1), 2, 64, 100));
        assertTrue(e.getMessage().contains("less than one KV block"), e.getMessage());
        // a configured budget stays as it is
        EngineConfig fixed = EngineConfig.defaults().withKvCacheBytes(123456789);
        assertEquals(123456789, fixed.resolveKvCache(model).kvCacheBytes());
    }

    @Test
    void metricsListenerSeesEveryStepAndTheHistogramCountsThem() {
        List<EngineMetrics> seen = new CopyOnWriteArrayList<>();
        try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            engine.setMetricsListener(seen::add);
            List<CompletableFuture<Completion>> fs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                fs.add(engine.submit(Request.builder(PROMPT).params(SamplingParams.greedy(10 + i)).build()));
            }
            fs.forEach(CompletableFuture::join);
            EngineMetrics last = engine.metrics();
            assertEquals(4 * 10 + 6, last.generatedTokens());
            assertEquals(4, last.finished());
            assertEquals(last.steps(), java.util.Arrays.stream(last.batchSizeHistogram()).sum());
            assertEquals(last.steps(), seen.size(), "one snapshot per step");
            for (int i = 1; i < seen.size(); i++) {
                assertEquals(seen.get(i - 1).steps() + 1, seen.get(i).steps());
            }
            assertTrue(last.generatedTokensPerSecond() > 0 && last.meanStepMillis() > 0);
            assertEquals(engine.numKvBlocks(), last.kvBlocksFree() + last.kvBlocksUsed());
        }
    }

    @Test
    void f16KvCacheHoldsTwiceTheBlocksOfTheSameBudgetAndStillGenerates() {
        EngineConfig f32 = EngineConfig.defaults().withKvCacheBytes(1L << 20);
        try (Engine a = new Engine(model, null, f32);
             Engine b = new Engine(model, null, f32.withKvPrecision(io.inferstream.runtime.kv.KvStore.Precision.F16))) {
            assertEquals(2 * a.numKvBlocks(), b.numKvBlocks());
            Completion c = b.submit(Request.builder(PROMPT).params(SamplingParams.greedy(20)).build()).join();
            assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
            assertEquals(20, c.generatedTokens());
        }
    }
}
