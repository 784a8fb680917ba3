package io.inferstream.jobs.testing;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.CheckpointListener;

/**
 * A pass-through operator that throws once in the whole JVM: in the first subtask to have seen
 * {@code afterRecords} records after at least one completed checkpoint, so that the job recovers from a real
 * checkpoint with records in flight. The flag is static so the restarted job does not fail again.
 */
public final class FailOnce<T> implements MapFunction<T, T>, CheckpointListener {
    private static final long serialVersionUID = 1L;
    private static final AtomicBoolean FAILED = new AtomicBoolean();

    private final int afterRecords;
    private transient int seen;
    private transient boolean checkpointed;

    public FailOnce(int afterRecords) {
        this.afterRecords = afterRecords;
    }

    public static void reset() {
        FAILED.set(false);
    }

    public static boolean failed() {
        return FAILED.get();
    }

    @Override
    public T map(T value) {
        seen++;
        if (checkpointed && seen >= afterRecords && FAILED.compareAndSet(false, true)) {
            throw new IllegalStateException("injected failure after " + seen + " records (test)");
        }
        return value;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        checkpointed = true;
    }
}
