package io.inferstream.runtime.generate;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.sampling.StopChecker;
import io.inferstream.runtime.tensor.VectorMath;
import io.inferstream.runtime.tokenizer.Tokenizer;

/**
 * Beam search over one prompt: keeps the {@code numBeams} most likely continuations, all of them run
 * in one forward batch per step. Each beam has its own block table; beams that share a prefix share
 * its full KV blocks, and a partly filled block is copied ({@link KvStore#copyBlock}) before a beam
 * writes into a block another beam still reads (copy-on-write).
 *
 * <p>A hypothesis is scored {@code logprob / length^lengthPenalty}, {@code length} counting every
 * generated token including the end-of-generation token that finished it. As in Hugging Face
 * transformers: 2·numBeams candidates are considered per step; an end token among the best numBeams
 * candidates finishes a hypothesis; the search ends once numBeams hypotheses are finished and no live
 * beam scores better than the worst of them, or when max new tokens is reached (live beams then finish
 * with reason LENGTH).
 */
public final class BeamSearch {

    /** A finished hypothesis: generated tokens, their summed log-probability and its length-normalised score. */
    public record Hypothesis(int[] tokens, double logprob, double score, FinishReason finishReason) {
    }

    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final KvStore.Precision precision;

    public BeamSearch(LanguageModel model, Tokenizer tokenizer, KvStore.Precision precision) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.precision = precision;
    }

    /** The best hypothesis as a generation result (timings cover the whole search). */
    public GenerationResult generate(int[] prompt, SamplingParams params) {
        long start = System.nanoTime();
        List<Hypothesis> finished = search(prompt, params);
        double seconds = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
        Hypothesis best = finished.get(0);
        FinishReason reason = best.finishReason();
        String text = "";
        if (tokenizer != null) {
            StopChecker stop = new StopChecker(params, tokenizer);
            int n = best.tokens().length;
            int[] visible = n > 0 && stop.isStopToken(best.tokens()[n - 1]) ? Arrays.copyOf(best.tokens(), n - 1) : best.tokens();
            text = stop.accept(tokenizer.decode(visible));
            if (stop.stopped()) {
                reason = FinishReason.STOP;
            } else {
                text += stop.finish();
            }
        }
        float[] logprobs = new float[0];
        return new GenerationResult(best.tokens(), text, reason, prompt.length, logprobs,
                (prompt.length + best.tokens().length) / seconds, best.tokens().length / seconds);
    }

    /** All finished hypotheses (at most numBeams), best score first. */
    public List<Hypothesis> search(int[] prompt, SamplingParams params) {
        int beams = Math.max(1, params.numBeams());
        int contextLength = model.config().contextLength();
        if (prompt.length == 0 || prompt.length >= contextLength) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens does not fit the model's context of "
                    + contextLength + " positions");
        }
        int maxNew = Math.min(params.maxNewTokens(), contextLength - prompt.length);
        if (maxNew <= 0) {
            throw new IllegalArgumentException("beam search needs max new tokens > 0, got " + params.maxNewTokens());
        }
        int vocab = model.config().vocabSize();
        int bs = Generator.BLOCK_SIZE;
        int blocksPerBeam = (prompt.length + maxNew + bs - 1) / bs;
        BlockPool pool = new BlockPool(beams * (blocksPerBeam + 1));
        KvStore kv = model.newKvStore(pool.size(), bs, precision);
        StopChecker stop = new StopChecker(params, tokenizer);
        float lengthPenalty = params.lengthPenalty();

        // Prefill the prompt once, into the first beam's blocks.
        Beam first = new Beam(new int[0], 0, new ArrayList<>());
        for (int b = 0; b < (prompt.length + bs - 1) / bs; b++) {
            first.blocks.add(pool.allocate());
        }
        float[] logits = model.forward(Generator.prefix(prompt, prompt.length, new int[][] {first.table()}), kv);
        List<Beam> live = List.of(first);
        List<Hypothesis> finished = new ArrayList<>();

        for (int step = 1; ; step++) {
            List<Candidate> candidates = topCandidates(live, logits, vocab, 2 * beams);
            List<Beam> next = new ArrayList<>();
            for (int rank = 0; rank < candidates.size() && next.size() < beams; rank++) {
                Candidate c = candidates.get(rank);
                Beam parent = live.get(c.beam);
                int[] tokens = Arrays.copyOf(parent.tokens, step);
                tokens[step - 1] = c.token;
                if (stop.isStopToken(c.token)) {
                    if (rank < beams) {
                        finished.add(new Hypothesis(tokens, c.logprob, c.logprob / Math.pow(step, lengthPenalty), FinishReason.STOP));
                    }
                    continue;
                }
                Beam child = new Beam(tokens, c.logprob, new ArrayList<>(parent.blocks));
                child.blocks.forEach(pool::retain);
                next.add(child);
            }
            live.forEach(b -> b.blocks.forEach(pool::release));
            finished.sort(Comparator.comparingDouble(Hypothesis::score).reversed());
            if (finished.size() > beams) {
                finished.subList(beams, finished.size()).clear();
            }
            if (step == maxNew) {
                for (Beam b : next) {
                    finished.add(new Hypothesis(b.tokens, b.logprob, b.logprob / Math.pow(step, lengthPenalty), FinishReason.LENGTH));
                }
                break;
            }
            if (next.isEmpty()) {
                break;
            }
            if (finished.size() >= beams) {
                double bestLive = next.get(0).logprob / Math.pow(step, lengthPenalty);
                if (finished.get(finished.size() - 1).score() >= bestLive) {
                    break;
                }
            }
            // Each beam writes its newest token at position p: give it a block of its own to write into.
            int p = prompt.length + step - 1;
            int n = next.size();
            int[] tokens = new int[n];
            int[] positions = new int[n];
            int[] seq = new int[n];
            int[][] tables = new int[n][];
            for (int i = 0; i < n; i++) {
                Beam b = next.get(i);
                if (p % bs == 0) {
                    b.blocks.add(pool.allocate());
                } else {
                    int last = b.blocks.get(b.blocks.size() - 1);
                    if (pool.shared(last)) {
                        int copy = pool.allocate();
                        kv.copyBlock(last, copy);
                        pool.release(last);
                        b.blocks.set(b.blocks.size() - 1, copy);
                    }
                }
                tokens[i] = b.tokens[step - 1];
                positions[i] = p;
                seq[i] = i;
                tables[i] = b.table();
            }
            logits = model.forward(new TokenBatch(tokens, positions, seq, tables, Generator.identity(n)), kv);
            live = next;
        }
        finished.sort(Comparator.comparingDouble(Hypothesis::score).reversed());
        return finished.size() > beams ? new ArrayList<>(finished.subList(0, beams)) : finished;
    }

    private record Candidate(int beam, int token, double logprob) {
    }

    /** The {@code k} best (beam, token) extensions by total log-probability; ties: lower beam, then lower token. */
    private static List<Candidate> topCandidates(List<Beam> live, float[] logits, int vocab, int k) {
        Candidate[] best = new Candidate[k];
        int size = 0;
        for (int b = 0; b < live.size(); b++) {
            int off = b * vocab;
            double logZ = VectorMath.logSumExp(logits, off, vocab);
            double base = live.get(b).logprob;
            for (int t = 0; t < vocab; t++) {
                double score = base + logits[off + t] - logZ;
                if (size == k && score <= best[k - 1].logprob) {
                    continue; // strictly better only: earlier (beam, token) wins ties
                }
                int i = size == k ? k - 1 : size++;
                while (i > 0 && best[i - 1].logprob < score) {
                    best[i] = best[i - 1];
                    i--;
                }
                best[i] = new Candidate(b, t, score);
            }
        }
        return Arrays.asList(Arrays.copyOf(best, size));
    }

    private static final class Beam {
        final int[] tokens;        // generated so far
        final double logprob;      // sum of their log-probabilities
        final List<Integer> blocks; // physical KV blocks, in position order

        Beam(int[] tokens, double logprob, List<Integer> blocks) {
            this.tokens = tokens;
            this.logprob = logprob;
            this.blocks = blocks;
        }

        int[] table() {
            return blocks.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** Reference-counted KV blocks of one search. */
    private static final class BlockPool {
        private final int[] refs;
        private final ArrayDeque<Integer> free = new ArrayDeque<>();

        BlockPool(int size) {
            refs = new int[size];
            for (int i = 0; i < size; i++) {
                free.add(i);
            }
        }

        int size() {
            return refs.length;
        }

        int allocate() {
            Integer b = free.poll();
            if (b == null) {
                throw new IllegalStateException("beam search ran out of KV blocks (" + refs.length + ")");
            }
            refs[b] = 1;
            return b;
        }

        void retain(int b) {
            refs[b]++;
        }

        void release(int b) {
            if (--refs[b] == 0) {
                free.add(b);
            }
        }

        boolean shared(int b) {
            return refs[b] > 1;
        }
    }
}
