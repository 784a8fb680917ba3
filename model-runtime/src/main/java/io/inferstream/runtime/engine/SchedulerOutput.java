package io.inferstream.runtime.engine;

import java.util.List;

/**
 * One step's decision: the chunks to run (running sequences' decode/prefill first, then newly admitted
 * ones, in batch order) and the sequences preempted to make room.
 */
public record SchedulerOutput(List<ScheduledChunk> chunks, List<Sequence> preempted) {

    public boolean isEmpty() {
        return chunks.isEmpty();
    }

    public int totalTokens() {
        int n = 0;
        for (ScheduledChunk c : chunks) {
            n += c.tokens();
        }
        return n;
    }
}
