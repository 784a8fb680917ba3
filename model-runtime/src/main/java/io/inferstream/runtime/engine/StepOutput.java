package io.inferstream.runtime.engine;

/**
 * What one forward step returned: the logits rows, and which rows belong to which scheduled chunk.
 *
 * @param logits    [rows, vocabSize] row-major
 * @param vocabSize width of a row
 * @param firstRow  [chunks] index of each chunk's first logits row
 * @param rowCount  [chunks] logits rows of each chunk (positions {@code start + length - rowCount ..} in order)
 */
public record StepOutput(float[] logits, int vocabSize, int[] firstRow, int[] rowCount) {
}
