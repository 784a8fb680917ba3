package io.inferstream.jobs.testing;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.testing.ForwardingModel;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real model that loses its "device" once in the whole JVM, as a GPU does on a sticky error: its
 * {@code afterSteps}-th forward step throws, and from then on every step throws and {@link #unusable()} says why.
 * Other instances (the engine loaded after the loss) run normally. Static counters, as in {@link FailOnce}.
 */
public final class LosesDeviceOnce extends ForwardingModel {
    private static final AtomicInteger STEPS = new AtomicInteger();
    private static final AtomicBoolean LOST = new AtomicBoolean();

    private final int afterSteps;
    private volatile String lost;
    private volatile boolean closed;

    public LosesDeviceOnce(LanguageModel inner, int afterSteps) {
        super(inner);
        this.afterSteps = afterSteps;
    }

    public static void reset() {
        STEPS.set(0);
        LOST.set(false);
    }

    public static boolean happened() {
        return LOST.get();
    }

    @Override
    public float[] forward(TokenBatch batch, KvStore kv) {
        if (lost == null && STEPS.incrementAndGet() >= afterSteps && LOST.compareAndSet(false, true)) {
            lost = "cuda:0 was lost: CUDA_ERROR_ILLEGAL_ADDRESS (injected after " + afterSteps + " steps)";
        }
        if (lost != null) {
            throw new IllegalStateException("CUDA_ERROR_ILLEGAL_ADDRESS (injected)");
        }
        return super.forward(batch, kv);
    }

    @Override
    public Optional<String> unusable() {
        return Optional.ofNullable(lost);
    }

    public boolean closed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        super.close();
    }
}
