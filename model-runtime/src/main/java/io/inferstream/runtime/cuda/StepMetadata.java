package io.inferstream.runtime.cuda;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;

/**
 * A step's metadata as one upload (laid out as {@link StepShape} says), and the checks it passes first. Everything a
 * step's kernels index with comes from here, so an id, position or block outside the model or the KV store is refused
 * on the host with the batch index named, instead of becoming an out-of-bounds read on the device.
 *
 * @param ints  tokens [n] | positions [n] | sequence [n] | KV slots [n] | logit rows [m] | items [items, 2] | block
 *              tables [sequences, maxBlocks] (shorter tables padded with 0)
 * @param shape the step's shape, whose offsets index {@code ints} (in bytes)
 */
record StepMetadata(int[] ints, StepShape shape) {

    /**
     * The metadata of {@code batch} for a KV store of {@code blockSize} positions a block, with the tiled attention's
     * {@code items} (pairs; empty when the step uses another kernel). Token t's KV slot is the cache row of its
     * position: block {@code table[pos / blockSize]}, row {@code pos % blockSize}.
     */
    static StepMetadata of(TokenBatch batch, int blockSize, int[] items) {
        int n = batch.size();
        int m = batch.logitRows().length;
        int[][] tables = batch.blockTables();
        int maxBlocks = 1;
        for (int[] t : tables) {
            maxBlocks = Math.max(maxBlocks, t.length);
        }
        StepShape shape = new StepShape(n, m, maxBlocks, items.length / 2);
        int[] ints = new int[(int) (shape.tablesAt() / 4) + tables.length * maxBlocks];
        int positions = (int) (shape.positionsAt() / 4);
        int seq = (int) (shape.seqAt() / 4);
        int slots = (int) (shape.slotsAt() / 4);
        for (int t = 0; t < n; t++) {
            int pos = batch.positions()[t];
            ints[t] = batch.tokens()[t];
            ints[positions + t] = pos;
            ints[seq + t] = batch.seq()[t];
            ints[slots + t] = tables[batch.seq()[t]][pos / blockSize] * blockSize + pos % blockSize;
        }
        System.arraycopy(batch.logitRows(), 0, ints, (int) (shape.logitRowsAt() / 4), m);
        System.arraycopy(items, 0, ints, (int) (shape.itemsAt() / 4), items.length);
        int at = (int) (shape.tablesAt() / 4);
        for (int s = 0; s < tables.length; s++) {
            System.arraycopy(tables[s], 0, ints, at + s * maxBlocks, tables[s].length);
        }
        return new StepMetadata(ints, shape);
    }

    /**
     * Refuses a step the model's kernels cannot run: a KV store of another model's shape, an empty batch, a logit row
     * or token id out of range, a sequence without a block table, or a position whose blocks (every one up to it:
     * attention reads them all) are not blocks of the store.
     */
    static void validate(TokenBatch batch, KvStore kv, ModelConfig config) {
        if (kv.nLayers() != config.nLayers() || kv.kvDim() != config.kvDim()) {
            throw new IllegalArgumentException("KV store of " + kv.nLayers() + " layers x " + kv.kvDim()
                    + " does not fit this model (" + config.nLayers() + " layers x " + config.kvDim() + ")");
        }
        if (batch.size() == 0) {
            throw new IllegalArgumentException("empty batch");
        }
        for (int r : batch.logitRows()) {
            if (r < 0 || r >= batch.size()) {
                throw new IllegalArgumentException("logit row " + r + " is not one of the batch's " + batch.size() + " tokens");
            }
        }
        int bs = kv.blockSize();
        for (int t = 0; t < batch.size(); t++) {
            int token = batch.tokens()[t];
            int pos = batch.positions()[t];
            if (token < 0 || token >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + token + " at batch index " + t
                        + " is outside the vocabulary of " + config.vocabSize());
            }
            int s = batch.seq()[t];
            if (s < 0 || s >= batch.blockTables().length) {
                throw new IllegalArgumentException("sequence " + s + " of batch index " + t + " has no block table");
            }
            int[] table = batch.blockTables()[s];
            if (pos < 0 || pos / bs >= table.length) {
                throw new IllegalArgumentException("position " + pos + " of sequence " + s
                        + " has no KV block in its block table of " + table.length + " blocks");
            }
            for (int b = 0; b <= pos / bs; b++) {
                if (table[b] < 0 || table[b] >= kv.numBlocks()) {
                    throw new IllegalArgumentException("block table of sequence " + s + " names block " + table[b]
                            + " at index " + b + "; the store has " + kv.numBlocks() + " blocks");
                }
            }
        }
    }
}
