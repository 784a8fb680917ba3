package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.BlockHash;
import io.inferstream.runtime.kv.CachedPrefix;
import io.inferstream.runtime.kv.KvCacheManager;
import io.inferstream.runtime.speculative.PromptLookupProposer;
import io.inferstream.runtime.speculative.Speculation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.PriorityQueue;

/**
 * Decides, one step at a time, which tokens of which sequences run next.
 *
 * <p>Policy (vLLM v1 style): within a token budget of {@code maxBatchedTokens}, running sequences come
 * first in admission order (a decode token each, or the next chunk of an unfinished prefill); then
 * waiting sequences are admitted by priority and arrival while the budget, the {@code maxSequences} cap
 * and free KV blocks allow, a long prompt being split across steps (chunked prefill). When a running
 * sequence needs a block and none is free, the most recently admitted sequence is preempted: its blocks
 * are freed and it goes back to waiting, to be recomputed later. A waiting sequence whose next
 * uncached prefix block another sequence is computing waits until that block is cached, so a shared
 * preamble is computed once even when its requests arrive together. With speculative decoding on, a decoding
 * sequence's token may be followed by tokens guessed by prompt lookup ({@link Speculation}), when the budget and free
 * blocks allow them without preempting anyone; which guesses were kept the engine says after the step
 * ({@link #acceptDrafts}). Nothing here runs the model.
 */
public final class Scheduler {

    private final int maxBatchedTokens;
    private final int maxSequences;
    private final KvCacheManager kv;
    private final Speculation speculation;
    private final List<Sequence> running = new ArrayList<>(); // admission order
    private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(
            Comparator.comparingInt(Sequence::priority).reversed()
                    .thenComparingLong(Sequence::arrivalNanos)
                    .thenComparingLong(Sequence::id));
    private long admissions;
    private long preemptions;

    public Scheduler(EngineConfig config, KvCacheManager kv) {
        this.maxBatchedTokens = config.maxBatchedTokens();
        this.maxSequences = config.maxSequences();
        this.kv = kv;
        this.speculation = config.speculation();
    }

    /** Queues a new sequence. */
    public void add(Sequence s) {
        waiting.add(s);
    }

    public boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty();
    }

    public int numRunning() {
        return running.size();
    }

    public int numWaiting() {
        return waiting.size();
    }

    public long preemptions() {
        return preemptions;
    }

    /** Running then waiting sequences (a copy). */
    public List<Sequence> all() {
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        return all;
    }

    public SchedulerOutput schedule() {
        List<ScheduledChunk> chunks = new ArrayList<>();
        List<Sequence> preempted = new ArrayList<>();
        int budget = maxBatchedTokens;

        // 1. Running sequences: decode tokens and unfinished prefill chunks.
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence s = running.get(i);
            int n = Math.min(s.remaining(), budget);
            int[] drafts = drafts(s, budget - (running.size() - i));
            if (drafts.length > 0 && kv.allocate(s.id(), null, s.numComputed() + n + drafts.length)) {
                chunks.add(new ScheduledChunk(s, s.numComputed(), n, drafts));
                budget -= n + drafts.length;
                continue;
            }
            boolean scheduled = false;
            while (!scheduled) {
                if (kv.allocate(s.id(), null, s.numComputed() + n)) {
                    scheduled = true;
                } else {
                    Sequence victim = running.remove(running.size() - 1);
                    preempt(victim);
                    preempted.add(victim);
                    if (victim == s) {
                        break;
                    }
                }
            }
            if (!scheduled) {
                break;
            }
            chunks.add(new ScheduledChunk(s, s.numComputed(), n));
            budget -= n;
        }

        // 2. Waiting sequences, unless this step had to preempt (then memory is the limit, not work).
        boolean admitting = preempted.isEmpty() && budget > 0 && !waiting.isEmpty();
        Set<BlockHash> inProgress = admitting && kv.prefixCaching() ? blocksBeingComputed() : new HashSet<>();
        List<Sequence> deferred = new ArrayList<>();
        while (preempted.isEmpty() && budget > 0 && running.size() < maxSequences && !waiting.isEmpty()) {
            Sequence s = waiting.peek();
            int[] tokens = s.tokenArray();
            CachedPrefix prefix = kv.findCachedPrefix(tokens, s.cacheableTokens());
            if (nextBlockIsBeingComputed(s, tokens, prefix, inProgress)) {
                // Another sequence is computing this prefix right now: wait for it to be cached rather
                // than compute it twice (a preamble shared by requests that arrive together).
                deferred.add(waiting.poll());
                continue;
            }
            int computed = prefix.tokens();
            int n = Math.min(s.length() - computed, budget);
            if (!kv.allocate(s.id(), prefix, computed + n)) {
                break;
            }
            waiting.poll();
            kv.recordLookup(s.length(), prefix);
            s.admit(admissions++, computed);
            running.add(s);
            chunks.add(new ScheduledChunk(s, computed, n));
            budget -= n;
            if (kv.prefixCaching()) {
                addUncachedFullBlocks(s, tokens, inProgress);
            }
        }
        waiting.addAll(deferred);
        return new SchedulerOutput(chunks, preempted);
    }

    /**
     * Guessed tokens to run after a decoding sequence's next token (speculative decoding), within {@code spare} tokens
     * of the step's budget; none for a prefill chunk, a scoring sequence, or when guesses would pass its token limit.
     */
    private int[] drafts(Sequence s, int spare) {
        if (!speculation.enabled() || s.remaining() != 1 || s.kind() != Sequence.Kind.GENERATE) {
            return PromptLookupProposer.NONE;
        }
        // A guess at position length + i yields a token at length + i + 1, which must stay within maxLength.
        int limit = Math.min(spare, s.maxLength() - s.length() - 1);
        return speculation.propose(s.tokens(), s.length(), limit, running.size(), s.draftBudget(speculation));
    }

    /** Hashes of the full blocks that running sequences have still to compute (this step or later). */
    private Set<BlockHash> blocksBeingComputed() {
        Set<BlockHash> hashes = new HashSet<>();
        for (Sequence s : running) {
            if (s.remaining() > 1) { // prefilling; a decode token completes at most a block of generated text
                addUncachedFullBlocks(s, s.tokenArray(), hashes);
            }
        }
        return hashes;
    }

    private void addUncachedFullBlocks(Sequence s, int[] tokens, Set<BlockHash> into) {
        int bs = kv.blockSize();
        BlockHash[] chain = kv.blockHashes(tokens, s.length() / bs);
        for (int i = s.numComputed() / bs; i < chain.length; i++) {
            into.add(chain[i]);
        }
    }

    /** True when the first block the cache does not have is one another sequence is computing. */
    private boolean nextBlockIsBeingComputed(Sequence s, int[] tokens, CachedPrefix prefix, Set<BlockHash> inProgress) {
        if (inProgress.isEmpty()) {
            return false;
        }
        int next = prefix.blocks().length;
        int bs = kv.blockSize();
        if ((next + 1) * bs > s.cacheableTokens()) {
            return false; // that block would be recomputed anyway (it holds a position whose logits are wanted)
        }
        BlockHash parent = next == 0 ? null : prefix.hashes().get(next - 1);
        return inProgress.contains(BlockHash.of(parent, tokens, next * bs, bs));
    }

    /**
     * Records that a step computed the chunks' tokens: their keys/values are in the cache now. Guessed tokens are not
     * counted here: the engine says which it kept ({@link #acceptDrafts}) once it has sampled their logits.
     */
    public void update(SchedulerOutput output) {
        for (ScheduledChunk c : output.chunks()) {
            Sequence s = c.sequence();
            s.advance(c.length());
            kv.cacheFullBlocks(s.id(), s.tokens(), s.numComputed());
        }
    }

    /**
     * Records that the first {@code accepted} guesses run after a sequence's decode token were kept (appended to it):
     * their keys/values, computed in the step, count now. The rest of the guesses' slots hold keys and values of tokens
     * the sequence does not have; they lie past what it has computed, so the next step overwrites them.
     */
    public void acceptDrafts(Sequence s, int accepted) {
        if (accepted > 0) {
            s.advance(accepted);
            kv.cacheFullBlocks(s.id(), s.tokens(), s.numComputed());
        }
    }

    /** Removes a sequence (finished, cancelled, failed) wherever it is and frees its blocks. */
    public void finish(Sequence s) {
        if (!running.remove(s)) {
            waiting.remove(s);
        }
        kv.free(s.id());
        s.markFinished();
    }

    private void preempt(Sequence s) {
        kv.free(s.id());
        s.preempt();
        waiting.add(s);
        preemptions++;
    }
}
