package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvCacheManager;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.TokenBatch;

/**
 * Executes one scheduler decision: flattens every scheduled chunk into one {@link TokenBatch} (tokens,
 * positions, sequence index, block tables, which rows need logits) and runs one model forward over it.
 */
public final class ModelRunner {

    private final LanguageModel model;
    private final KvStore store;
    private final KvCacheManager kv;

    public ModelRunner(LanguageModel model, KvStore store, KvCacheManager kv) {
        this.model = model;
        this.store = store;
        this.kv = kv;
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
            for (int i = 0; i < chunk.length(); i++, t++) {
                int p = chunk.start() + i;
                tokens[t] = s.tokens()[p];
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

    /** First position of the chunk whose logits are needed (past its end when none are). */
    private static int logitsFrom(ScheduledChunk chunk) {
        Sequence s = chunk.sequence();
        int end = chunk.start() + chunk.length();
        if (s.kind() == Sequence.Kind.SCORE) {
            return Math.max(chunk.start(), s.logitsFrom());
        }
        return chunk.reachesEnd() ? end - 1 : end;
    }

    public StepOutput execute(SchedulerOutput output) {
        int numChunks = output.chunks().size();
        int[] firstRow = new int[numChunks];
        int[] rowCount = new int[numChunks];
        TokenBatch batch = buildBatch(output, firstRow, rowCount);
        float[] logits = model.forward(batch, store); // [rows, vocab]
        int vocab = model.config().vocabSize();
        if (logits.length != batch.logitRows().length * vocab) {
            throw new IllegalStateException("model returned " + logits.length + " logits for " + batch.logitRows().length
                    + " rows of vocabulary " + vocab);
        }
        return new StepOutput(logits, vocab, firstRow, rowCount);
    }
}
