package io.inferstream.runtime.engine;

/**
 * Tokens {@code [start, start + length)} of one sequence, to be run through the model this step:
 * a prefill chunk or a single decode token.
 */
public record ScheduledChunk(Sequence sequence, int start, int length) {

    /** True when this chunk reaches the sequence's last token, so its next-token logits are ready after it. */
    public boolean reachesEnd() {
        return start + length == sequence.length();
    }
}
