package io.inferstream.runtime.model;

/**
 * One engine step's work, flattened: every scheduled token of every sequence (prefill chunks and
 * decode tokens alike) in one list, so that each weight matrix is multiplied once against all of them.
 *
 * <p>Token {@code t} belongs to sequence {@code seq[t]}, sits at position {@code positions[t]} of that
 * sequence, and its keys/values are written to the paged cache at
 * {@code blockTables[seq[t]][positions[t] / blockSize] * blockSize + positions[t] % blockSize}.
 * Attention for token {@code t} reads positions {@code 0..positions[t]} of its own sequence through
 * the same block table (causal within the sequence, blind to every other sequence).
 *
 * @param tokens      [n] token ids
 * @param positions   [n] position of each token in its sequence
 * @param seq         [n] index of each token's sequence into {@code blockTables}
 * @param blockTables [numSeqs][blocks] physical KV block ids of each sequence, in position order
 * @param logitRows   indices into the n tokens whose next-token logits are wanted (usually each
 *                    sequence's last scheduled token), in output order
 */
public record TokenBatch(int[] tokens, int[] positions, int[] seq, int[][] blockTables, int[] logitRows) {

    public TokenBatch {
        if (tokens.length != positions.length || tokens.length != seq.length) {
            throw new IllegalArgumentException("tokens, positions and seq must have the same length: "
                    + tokens.length + ", " + positions.length + ", " + seq.length);
        }
    }

    public int size() {
        return tokens.length;
    }
}
