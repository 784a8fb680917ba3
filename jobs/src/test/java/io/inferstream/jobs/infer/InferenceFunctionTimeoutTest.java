package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.EngineMetrics;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.HoldingListener;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.flink.formats.avro.typeutils.AvroSerializer;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * The request timeout of the streaming job's async operator (Flink's real {@code AsyncWaitOperator} with the
 * {@link InferenceFunction}, on the shared engine with stories260K): when async I/O gives up on a request, the
 * request's engine calls end (CANCELLED) and free their KV blocks while the job goes on; the request still gets its
 * DEADLINE result with the reason, and a request running beside it produces the same tokens as alone. The test holds
 * the engine still inside a step (a token listener of the other request) so that the timed-out summary's chunk
 * calls are certainly running when the timeout fires; the timeout is fired on Flink's test clock, long before the
 * engine's own deadline (the same timeout in wall time) could end them.
 */
class InferenceFunctionTimeoutTest {
    private static final long TIMEOUT_MS = 60_000;
    private static final int[] OTHER_PROMPT = {1, 403, 407, 261};
    private static final int OTHER_MAX_NEW = 60;
    private static final String LONG_STORY = "Tom had a red ball. He liked to play with it in the park. One day the ball rolled into the pond. "
            + "Tom was sad and he cried. A big duck swam to the ball. The duck pushed the ball back to Tom. Tom was very happy. "
            + "He said thank you to the duck. The duck quacked and swam away. Tom went home with his ball. His mom gave him a cookie. "
            + "Tom told his mom about the kind duck. Mom smiled and hugged him. The next day Tom went to the park again.";

    private static int blocksFor(int tokens) {
        return (tokens + EngineConfig.DEFAULT_BLOCK_SIZE - 1) / EngineConfig.DEFAULT_BLOCK_SIZE;
    }

    /** Polls the engine's metrics until {@code done} holds (10 s at most). */
    private static EngineMetrics awaitMetrics(Engine engine, Predicate<EngineMetrics> done) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        EngineMetrics m = engine.metrics();
        while (!done.test(m) && System.nanoTime() < end) {
            Thread.sleep(5);
            m = engine.metrics();
        }
        return m;
    }

    @Test
    void aTimedOutRequestEndsItsEngineCallsAndGetsADeadlineResult() throws Exception {
        String model = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        // A name of its own: no other test's operators share this engine.
        EngineSpec spec = EngineSpec.of(model, "stories260K-timeout");
        TaskOptions options = new TaskOptions(0, 0, 128, OverlongPromptPolicy.ERROR); // the story needs several chunks
        try (SharedEngines.Lease lease = SharedEngines.acquire(spec); HoldingListener hold = new HoldingListener(1, 3)) {
            Engine engine = lease.model().engine();
            int[] alone = engine.submit(Request.builder(OTHER_PROMPT).params(SamplingParams.greedy(OTHER_MAX_NEW)).build())
                    .join().tokens();
            EngineMetrics before = engine.metrics();
            int otherBlocks = blocksFor(OTHER_PROMPT.length + OTHER_MAX_NEW);

            InferenceFunction function = new InferenceFunction(spec, options, TIMEOUT_MS);
            try (OneInputStreamOperatorTestHarness<InferenceRequest, InferenceResult> harness = new OneInputStreamOperatorTestHarness<>(
                    new AsyncWaitOperatorFactory<>(function, TIMEOUT_MS, 10, AsyncDataStream.OutputMode.UNORDERED),
                    new AvroSerializer<>(InferenceRequest.class))) {
                harness.getProcessingTimeService().setCurrentTime(0);
                harness.open();

                CompletableFuture<Completion> other = engine.submit(Request.builder(OTHER_PROMPT)
                        .params(SamplingParams.greedy(OTHER_MAX_NEW)).listener(hold).build());
                hold.awaitHeld(); // step 1 (the other request's prefill) is held
                InferenceRequest slow = SampleRequests.valid("slow-summary", Task.SUMMARIZE).setText(LONG_STORY)
                        .setMaxNewTokens(16).build();
                harness.processElement(new StreamRecord<>(slow, 0));
                hold.letGo();
                hold.awaitHeld(); // step 2 ran the summary's chunk calls beside the other request; step 3 is held
                EngineMetrics during = engine.metrics();
                int chunkCalls = during.running() + during.waiting() - 1;
                assertTrue(chunkCalls >= 3, "the summary's chunk calls are in the engine: " + during);
                assertTrue(during.kvBlocksUsed() > otherBlocks, "the chunk calls hold KV blocks");

                harness.setProcessingTime(TIMEOUT_MS); // async I/O's timer: timeout() cancels the request's engine calls
                hold.letGo();
                EngineMetrics after = awaitMetrics(engine, m -> m.finished() - before.finished() >= chunkCalls);
                long ended = after.finished() - before.finished();
                // every chunk call ended; the other request may have finished by now too
                assertTrue(ended == chunkCalls || ended == chunkCalls + 1, "every chunk call ended: " + ended + " of "
                        + chunkCalls + " (+1 for the other request): " + after);
                long cancelled = after.cancelled() - before.cancelled();
                // A chunk call may still finish in the held step; every other one is cancelled.
                assertTrue(cancelled >= 1 && cancelled <= chunkCalls, cancelled + " of " + chunkCalls + " chunk calls cancelled");
                assertEquals(0, after.deadlineExceeded() - before.deadlineExceeded(), "ended by the timeout, not the engine's deadline");
                assertTrue(after.running() + after.waiting() <= 1, "only the other request is left: " + after);
                assertTrue(after.kvBlocksUsed() <= otherBlocks, "the chunk calls' blocks are free: " + after);

                harness.endInput(); // delivers the outputs of finished elements
                List<InferenceResult> results = harness.extractOutputValues();
                assertEquals(1, results.size(), "one result for the timed-out request, not a second late one");
                InferenceResult r = results.get(0);
                assertEquals("slow-summary", r.getId());
                assertEquals(FinishReason.DEADLINE, r.getFinishReason());
                assertEquals("timed out after " + TIMEOUT_MS + " ms (request timeout)", r.getError());
                assertNull(r.getOutput());

                assertArrayEquals(alone, other.get(10, TimeUnit.SECONDS).tokens(),
                        "the request beside the timed-out one produced the same tokens as alone");
            }
            EngineMetrics end = engine.metrics();
            assertEquals(0, end.running() + end.waiting());
            assertEquals(engine.numKvBlocks(), end.kvBlocksFree(), "every block is back in the pool");
        }
        assertEquals(0, SharedEngines.references(spec), "the engine was released");
    }
}
