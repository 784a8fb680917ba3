package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.EngineMetrics;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.HoldingListener;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A task that times out, or is cancelled, while its engine calls run ends them in the engine: they finish with
 * DEADLINE / CANCELLED at the next step, their KV blocks go back to the pool, and a request running beside them
 * produces the same tokens as alone; a call that fails cancels the task's other calls. The engine is held still
 * inside a step (by a token listener of the other request) so that the task's calls are certainly in the engine
 * when the timeout passes or the cancel comes.
 */
class TaskTimeoutTest {

    private static final int[] OTHER_PROMPT = {1, 403, 407, 261};
    private static final int OTHER_MAX_NEW = 60;
    private static final String LONG_STORY = "Tom had a red ball. He liked to play with it in the park. One day the ball rolled into the pond. "
            + "Tom was sad and he cried. A big duck swam to the ball. The duck pushed the ball back to Tom. Tom was very happy. "
            + "He said thank you to the duck. The duck quacked and swam away. Tom went home with his ball. His mom gave him a cookie. "
            + "Tom told his mom about the kind duck. Mom smiled and hugged him. The next day Tom went to the park again.";

    private static final String SHORT_STORY = "Tom had a red ball. One day the ball rolled into the pond. Tom was sad and he cried.";

    private static LlamaModel model;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        model = Stories260K.model();
        tokenizer = Stories260K.tokenizer();
    }

    private static TaskRunner runner(Engine engine) {
        return new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(),
                TaskDefaults.standard().withContextTokens(128), "stories260K");
    }

    private static int blocksFor(int tokens) {
        return (tokens + EngineConfig.DEFAULT_BLOCK_SIZE - 1) / EngineConfig.DEFAULT_BLOCK_SIZE;
    }

    private static int[] aloneTokens(Engine engine) {
        return engine.submit(Request.builder(OTHER_PROMPT).params(SamplingParams.greedy(OTHER_MAX_NEW)).build()).join().tokens();
    }

    @Test
    void aSummaryWhoseTimeoutPassesWhileItsChunkCallsRunEndsThemInTheEngineAndFreesTheirBlocks() throws Exception {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults()); HoldingListener hold = new HoldingListener(1, 3)) {
            int[] alone = aloneTokens(engine);
            TaskRunner runner = runner(engine);
            EngineMetrics before = engine.metrics();
            assertEquals(engine.numKvBlocks(), before.kvBlocksFree());

            CompletableFuture<Completion> other = engine.submit(Request.builder(OTHER_PROMPT)
                    .params(SamplingParams.greedy(OTHER_MAX_NEW)).listener(hold).build());
            hold.awaitHeld(); // step 1 (the other request's prefill) is stopped at its first token
            Duration timeout = Duration.ofMillis(300);
            long started = System.nanoTime();
            RunningTask task = runner.start(TaskRequest.builder("slow-summary", Task.SUMMARIZE, LONG_STORY).maxNewTokens(16).build(),
                    timeout);
            // The engine's metrics at the moment the task's result completes (on the step thread, after the snapshot).
            CompletableFuture<EngineMetrics> atResult = task.result().thenApply(r -> engine.metrics());
            hold.letGo();
            hold.awaitHeld(); // step 2 ran the task's chunk prompts with the other request; step 3 is held
            EngineMetrics during = engine.metrics();
            int chunkCalls = task.callsInFlight().size();
            assertTrue(chunkCalls >= 3, "the story is split into several chunks, each an engine call: " + chunkCalls);
            assertEquals(1 + chunkCalls, during.running() + during.waiting(), "the chunk calls are in the engine");
            assertTrue(during.kvBlocksUsed() > blocksFor(OTHER_PROMPT.length + OTHER_MAX_NEW), "the chunk calls hold KV blocks");

            Thread.sleep(Math.max(0, timeout.toMillis() + 50 - (System.nanoTime() - started) / 1_000_000));
            assertFalse(task.result().isDone(), "the engine is held: nothing has ended the task yet");
            hold.letGo(); // the deadline has passed: the engine's next step ends every chunk call

            TaskResult result = task.result().get(10, TimeUnit.SECONDS);
            assertEquals(FinishReason.DEADLINE, result.finishReason());
            assertEquals("request slow-summary (SUMMARIZE) did not finish within its timeout of 300 ms; its engine calls were stopped",
                    result.error());
            EngineMetrics m = atResult.get();
            // A chunk call may still finish in the held step; every other one ends with DEADLINE.
            long deadlines = m.deadlineExceeded() - before.deadlineExceeded();
            assertTrue(deadlines >= 1 && deadlines <= chunkCalls, deadlines + " of " + chunkCalls + " chunk calls ended with DEADLINE");
            assertEquals(chunkCalls, m.finished() - before.finished(), "every chunk call ended; no combining call was started");
            assertEquals(0, m.cancelled() - before.cancelled());
            assertTrue(m.running() + m.waiting() <= 1, "only the other request is left: " + m);
            assertTrue(m.kvBlocksUsed() <= blocksFor(OTHER_PROMPT.length + OTHER_MAX_NEW), "the chunk calls' blocks are free");
            assertTrue(task.callsInFlight().isEmpty());

            Completion c = other.get(10, TimeUnit.SECONDS);
            assertArrayEquals(alone, c.tokens(), "the request beside the task produced the same tokens as alone");
            EngineMetrics end = engine.metrics();
            assertEquals(0, end.running() + end.waiting());
            assertEquals(engine.numKvBlocks(), end.kvBlocksFree(), "every block is back in the pool");
        }
    }

    @Test
    void cancellingARunningClassificationEndsItsLabelScoringsInTheEngine() throws Exception {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults()); HoldingListener hold = new HoldingListener(1, 2)) {
            int[] alone = aloneTokens(engine);
            TaskRunner runner = runner(engine);
            EngineMetrics before = engine.metrics();

            CompletableFuture<Completion> other = engine.submit(Request.builder(OTHER_PROMPT)
                    .params(SamplingParams.greedy(OTHER_MAX_NEW)).listener(hold).build());
            hold.awaitHeld();
            RunningTask task = runner.start(TaskRequest.builder("classify-1", Task.CLASSIFY, SHORT_STORY)
                    .labels(List.of("happy", "sad", "angry", "scared", "surprised")).build(), Duration.ofMinutes(1));
            CompletableFuture<EngineMetrics> atResult = task.result().thenApply(r -> engine.metrics());
            hold.letGo();
            // Step 2 is held after its forward: one label scoring computed the shared prompt, the others wait for it.
            hold.awaitHeld();
            int scorings = task.callsInFlight().size();
            assertEquals(5, scorings, "every label scoring is in the engine");

            task.cancel("the caller stopped waiting");
            hold.letGo();

            TaskResult result = task.result().get(10, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED, result.finishReason());
            assertEquals("the caller stopped waiting", result.error());
            assertNull(result.label());
            EngineMetrics m = atResult.get();
            // A scoring may finish in the held step itself; every other one ends with CANCELLED.
            long cancelled = m.cancelled() - before.cancelled();
            assertTrue(cancelled >= 1 && cancelled <= scorings, cancelled + " of " + scorings + " scorings cancelled");
            assertEquals(0, m.deadlineExceeded() - before.deadlineExceeded());
            assertTrue(m.running() + m.waiting() <= 1, "only the other request is left: " + m);
            assertTrue(m.kvBlocksUsed() <= blocksFor(OTHER_PROMPT.length + OTHER_MAX_NEW), "the scorings' blocks are free");

            assertArrayEquals(alone, other.get(10, TimeUnit.SECONDS).tokens(), "the request beside the task produced the same tokens as alone");
            EngineMetrics end = engine.metrics();
            assertEquals(0, end.running() + end.waiting());
            assertEquals(engine.numKvBlocks(), end.kvBlocksFree(), "every block is back in the pool");
        }
    }

    @Test
    void aLabelScoringThatFailsCancelsTheTasksOtherScorings() throws Exception {
        String longLabel = "very ".repeat(40) + "long";
        TaskRequest request = TaskRequest.builder("classify-2", Task.CLASSIFY, SHORT_STORY)
                .labels(List.of("happy", "sad", "angry", longLabel)).build();
        TaskRunner sizing = new TaskRunner(null, model.config(), tokenizer, ChatTemplate.plain(), TaskDefaults.standard(), "stories260K");
        LabelContinuations lc = LabelContinuations.of(tokenizer, sizing.prompts().build(request, request.text()), request.labels());
        int shortest = blocksFor(lc.prefix().length + lc.continuations()[0].length);
        // A KV pool that holds the short labels' scorings (and the other request) but never the long label's.
        int blocks = shortest + 1;
        assertTrue(blocksFor(lc.prefix().length + lc.continuations()[3].length - 1) > blocks, "the long label cannot fit");
        EngineConfig small = EngineConfig.defaults().withKvCacheBytes(blocks * 20480L); // stories260K: 20480 bytes per block
        try (Engine engine = new Engine(model, tokenizer, small); HoldingListener hold = new HoldingListener(1)) {
            assertEquals(blocks, engine.numKvBlocks());
            // The model's whole context: the prompt lists every label, the long one too.
            TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(), TaskDefaults.standard(), "stories260K");
            CompletableFuture<Completion> other = engine.submit(Request.builder(OTHER_PROMPT)
                    .params(SamplingParams.greedy(10)).listener(hold).build());
            hold.awaitHeld(); // the engine is held: the short labels' scorings queue behind it
            RunningTask task = runner.start(request, Duration.ofMinutes(1));
            assertEquals(3, task.callsInFlight().size(), "the three short labels' scorings are in the engine");
            hold.letGo();

            TaskResult result = task.result().get(10, TimeUnit.SECONDS);
            assertEquals(FinishReason.ERROR, result.finishReason());
            assertTrue(result.error().contains("KV blocks"), result.error());
            assertEquals(FinishReason.LENGTH, other.get(10, TimeUnit.SECONDS).finishReason());
            EngineMetrics m = engine.metrics();
            assertEquals(3, m.cancelled(), "the short labels' scorings were cancelled, not computed");
            assertEquals(0, m.running() + m.waiting());
            assertEquals(blocks, m.kvBlocksFree());
        }
    }

    @Test
    void aTaskThatFinishesWithinItsTimeoutIsUnchanged() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine);
            TaskRequest request = TaskRequest.builder("quick", Task.SUMMARIZE, "Tom had a red ball. He played with it.").maxNewTokens(16).build();
            TaskResult untimed = runner.run(request).join();
            long deadlinesBefore = engine.metrics().deadlineExceeded();
            TaskResult timed = runner.start(request, Duration.ofMinutes(1)).result().join();
            assertNull(timed.error());
            assertEquals(untimed.output(), timed.output());
            assertEquals(untimed.finishReason(), timed.finishReason());
            assertEquals(untimed.completionTokens(), timed.completionTokens());
            assertEquals(deadlinesBefore, engine.metrics().deadlineExceeded());
        }
    }
}
