package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvCacheManager;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class SchedulerTest {

    private long nextId;

    private Sequence generation(int promptLength, int maxNew, int priority, long arrival) {
        int[] prompt = IntStream.range(0, promptLength).map(i -> 1000 + (int) nextId * 7 + i).toArray();
        long id = nextId++;
        return new Sequence(id, "r" + id, Sequence.Kind.GENERATE, prompt, promptLength, promptLength - 1,
                promptLength + maxNew, priority, arrival, Long.MAX_VALUE);
    }

    /** Plays the engine's part after a step: the chunks were computed; sequences at their end get a token. */
    private static void complete(Scheduler scheduler, SchedulerOutput out) {
        scheduler.update(out);
        for (ScheduledChunk c : out.chunks()) {
            if (c.reachesEnd()) {
                c.sequence().append(7);
            }
        }
    }

    private static EngineConfig config(int budget, int maxSeqs, int blockSize) {
        return EngineConfig.defaults().withMaxBatchedTokens(budget).withMaxSequences(maxSeqs).withBlockSize(blockSize);
    }

    @Test
    void longPromptIsPrefilledInChunksOfTheTokenBudget() {
        Scheduler s = new Scheduler(config(32, 8, 4), new KvCacheManager(64, 4, true));
        Sequence seq = generation(80, 4, 0, 0);
        s.add(seq);
        List<Integer> chunkStarts = new ArrayList<>();
        for (int step = 0; step < 3; step++) {
            SchedulerOutput out = s.schedule();
            assertEquals(1, out.chunks().size());
            chunkStarts.add(out.chunks().get(0).start());
            assertTrue(out.totalTokens() <= 32);
            complete(s, out);
        }
        assertEquals(List.of(0, 32, 64), chunkStarts);
        assertEquals(81, seq.length(), "the token is sampled only after the last chunk");
        SchedulerOutput decode = s.schedule();
        assertEquals(new ScheduledChunk(seq, 80, 1), decode.chunks().get(0), "then one decode token at position 80");
    }

    @Test
    void decodeTokensOfRunningSequencesComeBeforeNewPrefill() {
        Scheduler s = new Scheduler(config(16, 8, 4), new KvCacheManager(64, 4, true));
        Sequence a = generation(10, 8, 0, 0);
        Sequence b = generation(10, 8, 0, 1);
        s.add(a);
        complete(s, s.schedule());           // a prefilled (10 tokens)
        s.add(b);
        SchedulerOutput out = s.schedule();
        assertEquals(a, out.chunks().get(0).sequence());
        assertEquals(1, out.chunks().get(0).length(), "a decodes one token");
        assertEquals(b, out.chunks().get(1).sequence());
        assertEquals(10, out.chunks().get(1).length());
        assertEquals(11, out.totalTokens());
    }

    @Test
    void runningSequencesAreCappedAtMaxSequences() {
        Scheduler s = new Scheduler(config(512, 3, 4), new KvCacheManager(64, 4, true));
        for (int i = 0; i < 5; i++) {
            s.add(generation(5, 4, 0, i));
        }
        SchedulerOutput out = s.schedule();
        assertEquals(3, out.chunks().size());
        assertEquals(3, s.numRunning());
        assertEquals(2, s.numWaiting());
    }

    @Test
    void higherPriorityThenEarlierArrivalIsAdmittedFirst() {
        Scheduler s = new Scheduler(config(512, 2, 4), new KvCacheManager(64, 4, true));
        Sequence early = generation(5, 4, 0, 10);
        Sequence urgent = generation(5, 4, 5, 30);
        Sequence earliest = generation(5, 4, 0, 1);
        s.add(early);
        s.add(urgent);
        s.add(earliest);
        SchedulerOutput out = s.schedule();
        assertEquals(List.of(urgent, earliest), out.chunks().stream().map(ScheduledChunk::sequence).toList());
    }

    @Test
    void mostRecentlyAdmittedSequenceIsPreemptedWhenBlocksRunOut() {
        // 6 blocks of 4: three sequences of 8-token prompts take 2 blocks each; the first decode needs a 3rd.
        KvCacheManager kv = new KvCacheManager(6, 4, false);
        Scheduler s = new Scheduler(config(512, 8, 4), kv);
        Sequence a = generation(8, 8, 0, 0);
        Sequence b = generation(8, 8, 0, 1);
        Sequence c = generation(8, 8, 0, 2);
        s.add(a);
        s.add(b);
        s.add(c);
        complete(s, s.schedule());
        assertEquals(0, kv.numFreeBlocks());
        SchedulerOutput out = s.schedule();
        assertEquals(List.of(c), out.preempted(), "c was admitted last");
        assertEquals(List.of(a, b), out.chunks().stream().map(ScheduledChunk::sequence).toList());
        assertEquals(Sequence.Status.WAITING, c.status());
        assertEquals(0, c.numComputed());
        assertEquals(9, c.length(), "its generated token is kept and will be recomputed");
        assertEquals(1, s.preemptions());
        // Once a and b finish, c is readmitted and recomputes all its tokens.
        complete(s, out);
        s.finish(a);
        s.finish(b);
        SchedulerOutput again = s.schedule();
        assertEquals(new ScheduledChunk(c, 0, 9), again.chunks().get(0));
    }

    @Test
    void aSequenceThatCannotGrowPreemptsItselfWhenItIsTheNewest() {
        KvCacheManager kv = new KvCacheManager(2, 4, false);
        Scheduler s = new Scheduler(config(512, 8, 4), kv);
        Sequence a = generation(4, 8, 0, 0);
        Sequence b = generation(4, 8, 0, 1);
        s.add(a);
        s.add(b);
        complete(s, s.schedule());
        SchedulerOutput out = s.schedule();
        // a needs a second block: b (newest) goes; then a fits.
        assertEquals(List.of(b), out.preempted());
        assertEquals(1, out.chunks().size());
        assertEquals(a, out.chunks().get(0).sequence());
    }

    @Test
    void cachedPrefixIsNotScheduledAgain() {
        KvCacheManager kv = new KvCacheManager(64, 4, true);
        Scheduler s = new Scheduler(config(512, 8, 4), kv);
        int[] prompt = IntStream.range(0, 13).toArray();
        Sequence a = new Sequence(1, "a", Sequence.Kind.GENERATE, prompt, 13, 12, 20, 0, 0, Long.MAX_VALUE);
        Sequence b = new Sequence(2, "b", Sequence.Kind.GENERATE, prompt, 13, 12, 20, 0, 1, Long.MAX_VALUE);
        s.add(a);
        complete(s, s.schedule());
        s.add(b);
        SchedulerOutput out = s.schedule();
        ScheduledChunk bChunk = out.chunks().get(1);
        assertEquals(b, bChunk.sequence());
        assertEquals(12, bChunk.start(), "three full blocks come from the cache");
        assertEquals(1, bChunk.length());
        assertEquals(12, b.cachedTokens());
        assertEquals(26, kv.queriedTokens());
        assertEquals(12, kv.hitTokens());
    }

    @Test
    void sequencesArrivingTogetherWithASharedPrefixWaitForItInsteadOfComputingItTwice() {
        KvCacheManager kv = new KvCacheManager(64, 4, true);
        Scheduler s = new Scheduler(config(512, 8, 4), kv);
        int[] shared = IntStream.range(0, 20).toArray();
        int[] pa = IntStream.concat(IntStream.of(shared), IntStream.of(100, 101)).toArray();
        int[] pb = IntStream.concat(IntStream.of(shared), IntStream.of(200, 201)).toArray();
        int[] other = IntStream.range(500, 522).toArray();
        Sequence a = new Sequence(1, "a", Sequence.Kind.GENERATE, pa, 22, 21, 30, 0, 0, Long.MAX_VALUE);
        Sequence b = new Sequence(2, "b", Sequence.Kind.GENERATE, pb, 22, 21, 30, 0, 1, Long.MAX_VALUE);
        Sequence c = new Sequence(3, "c", Sequence.Kind.GENERATE, other, 22, 21, 30, 0, 2, Long.MAX_VALUE);
        s.add(a);
        s.add(b);
        s.add(c);
        SchedulerOutput first = s.schedule();
        assertEquals(List.of(a, c), first.chunks().stream().map(ScheduledChunk::sequence).toList(),
                "b waits for a's blocks; c, sharing nothing, is not held up");
        assertEquals(Sequence.Status.WAITING, b.status());
        complete(s, first);
        SchedulerOutput second = s.schedule();
        ScheduledChunk bChunk = second.chunks().get(2);
        assertEquals(b, bChunk.sequence());
        assertEquals(20, bChunk.start(), "five shared blocks come from the cache");
    }
}
