package io.inferstream.runtime.engine;

import io.inferstream.runtime.speculative.PromptLookupProposer;

/**
 * Tokens {@code [start, start + length)} of one sequence, to be run through the model this step: a prefill chunk or a
 * single decode token; a decode token may be followed by {@code drafts}, guessed tokens at the positions after it
 * (speculative decoding), whose logits the step also returns.
 */
public record ScheduledChunk(Sequence sequence, int start, int length, int[] drafts) {

    public ScheduledChunk(Sequence sequence, int start, int length) {
        this(sequence, start, length, PromptLookupProposer.NONE);
    }

    /** True when this chunk reaches the sequence's last token, so its next-token logits are ready after it. */
    public boolean reachesEnd() {
        return start + length == sequence.length();
    }

    /** Positions the step runs for this chunk: its own tokens and the guessed ones. */
    public int tokens() {
        return length + drafts.length;
    }
}
