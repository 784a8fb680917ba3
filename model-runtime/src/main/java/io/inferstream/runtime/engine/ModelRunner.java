package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvCacheManager;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.TokenBatch;

/**
 * Executes one scheduler decision: flattens every scheduled chunk into one {@link TokenBatch} (tokens,
 * positions, sequence index, block tables, which rows need logits) and runs one model forward over it.
 *
 * <p>When every row of the step is sampled by a request whose sampler can choose from the best logits alone
 * ({@link io.inferstream.runtime.sampling.Sampler#candidatesWanted}) and no scoring rows are in the step, it
 * asks the model for those candidates (k = the smallest sufficient power of two, at most
 * {@link LogitCandidates#MAX_K}) instead of the full logits: on a GPU, k pairs per row cross the bus instead
 * of the vocabulary.
 */
public final class ModelRunner {

    private final LanguageModel model;
    private final KvStore store;
    private final KvCacheManager kv;
    private final boolean candidates;
    private long forwardNanos; // total time inside the model's forward calls

    public ModelRunner(LanguageModel model, KvStore store, KvCacheManager kv) {
        this(model, store, kv, true);
    }

    /** @param candidates use {@link LanguageModel#forwardCandidates} for steps that allow it */
    public ModelRunner(LanguageModel model, KvStore store, KvCacheManager kv, boolean candidates) {
        this.model = model;
        this.store = store;
        this.kv = kv;
        this.candidates = candidates;
    }

    /** The flattened batch for {@code output} plus, per chunk, its first logits row and row count. */
    TokenBatch buildBatch(SchedulerOutput output, int[] firstRow, int[] rowCount) {
        int n = output.totalTokens();
        int[] tokens = new int[n];     // [n]
        int[] positions = new int[n];  // [n]
        int[] seq = new int[n];        // [n]
        int numChunks = output.chunks().size();
        int[][] blockTables = new int[numChunks][];
        int[] rows = new int[n];
        int numRows = 0;
        int t = 0;
        for (int c = 0; c < numChunks; c++) {
            ScheduledChunk chunk = output.chunks().get(c);
            Sequence s = chunk.sequence();
            blockTables[c] = kv.blockTable(s.id());
            int wantFrom = logitsFrom(chunk);
            firstRow[c] = numRows;
            for (int i = 0; i < chunk.tokens(); i++, t++) {
                int p = chunk.start() + i;
                tokens[t] = i < chunk.length() ? s.tokens()[p] : chunk.drafts()[i - chunk.length()];
                positions[t] = p;
                seq[t] = c;
                if (p >= wantFrom) {
                    rows[numRows++] = t;
                }
            }
            rowCount[c] = numRows - firstRow[c];
        }
        if (numRows == 0) {
            // A step of prefill chunks only: no logits are needed, but the model's classifier runs on at
            // least one row; this spare row belongs to no chunk and is ignored.
            rows[numRows++] = n - 1;
        }
        return new TokenBatch(tokens, positions, seq, blockTables, java.util.Arrays.copyOf(rows, numRows));
    }

    /**
     * First position of the chunk whose logits are needed (past its end when none are). A decode token's guessed
     * followers all come after it, so they all get logits.
     */
    private static int logitsFrom(ScheduledChunk chunk) {
        Sequence s = chunk.sequence();
        int end = chunk.start() + chunk.length();
        if (s.kind() == Sequence.Kind.SCORE) {
            return Math.max(chunk.start(), s.logitsFrom());
        }
        return chunk.reachesEnd() ? end - 1 : end;
    }

    /** Nanoseconds spent inside the model's forward calls so far (the rest of a step is the engine's own work). */
    long forwardNanos() {
        return forwardNanos;
    }

    public StepOutput execute(SchedulerOutput output) {
        int numChunks = output.chunks().size();
        int[] firstRow = new int[numChunks];
        int[] rowCount = new int[numChunks];
        TokenBatch batch = buildBatch(output, firstRow, rowCount);
        int vocab = model.config().vocabSize();
        int k = candidates ? candidatesFor(output, rowCount, vocab) : 0;
        long t0 = System.nanoTime();
        if (k > 0) {
            LogitCandidates c = model.forwardCandidates(batch, store, k);
            forwardNanos += System.nanoTime() - t0;
            if (c.rows() != batch.logitRows().length || c.vocabSize() != vocab || c.k() != Math.min(k, vocab)) {
                throw new IllegalStateException("model returned " + c.rows() + " rows of " + c.k() + " candidates (vocabulary "
                        + c.vocabSize() + ") for " + batch.logitRows().length + " rows of " + k + " (vocabulary " + vocab + ")");
            }
            return new StepOutput(null, vocab, firstRow, rowCount, c);
        }
        float[] logits = model.forward(batch, store); // [rows, vocab]
        forwardNanos += System.nanoTime() - t0;
        if (logits.length != batch.logitRows().length * vocab) {
            throw new IllegalStateException("model returned " + logits.length + " logits for " + batch.logitRows().length
                    + " rows of vocabulary " + vocab);
        }
        return new StepOutput(logits, vocab, firstRow, rowCount, null);
    }

    /**
     * Candidates per row that serve every row of the step (a power of two, at most {@link LogitCandidates#MAX_K}),
     * or 0 when some row needs full logits: a scoring row, or a sampler that cannot choose from candidates.
     */
    static int candidatesFor(SchedulerOutput output, int[] rowCount, int vocab) {
        int need = 1; // a step without sampled rows (prefill only) still returns one spare row: 1 candidate will do
        for (int c = 0; c < output.chunks().size(); c++) {
            ScheduledChunk chunk = output.chunks().get(c);
            Sequence s = chunk.sequence();
            if (rowCount[c] == 0) {
                continue;
            }
            if (s.kind() == Sequence.Kind.SCORE) {
                return 0; // log-probs of given targets need the whole row
            }
            int wanted = s.progress().sampler.candidatesWanted(vocab);
            if (wanted <= 0) {
                return 0;
            }
            need = Math.max(need, wanted);
        }
        int k = Integer.highestOneBit(need);
        k = k < need ? 2 * k : k;
        return Math.min(k, LogitCandidates.MAX_K);
    }
}
