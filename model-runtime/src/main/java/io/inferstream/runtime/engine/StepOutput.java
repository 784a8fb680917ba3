package io.inferstream.runtime.engine;

import io.inferstream.runtime.model.LogitCandidates;

/**
 * What one forward step returned: the logits rows (or only their best candidates), and which rows belong to
 * which scheduled chunk.
 *
 * @param logits     [rows, vocabSize] row-major; null when the step returned candidates
 * @param vocabSize  width of a row
 * @param firstRow   [chunks] index of each chunk's first logits row
 * @param rowCount   [chunks] logits rows of each chunk (positions {@code start + length - rowCount ..} in order)
 * @param candidates each row's best logits when every row of the step could be sampled from them; else null
 */
public record StepOutput(float[] logits, int vocabSize, int[] firstRow, int[] rowCount, LogitCandidates candidates) {
}
