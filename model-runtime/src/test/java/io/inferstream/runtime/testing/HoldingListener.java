package io.inferstream.runtime.testing;

import io.inferstream.runtime.engine.TokenListener;

import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A token listener that holds the engine still: at the chosen tokens of its request it blocks the engine's step
 * thread (inside the step, after the forward pass) until the test lets it go on. Tests use it to act at a known
 * point of the step loop, e.g. while another request's calls certainly hold KV blocks. Close it (try-with-resources,
 * before the engine) so that a failed assertion never leaves the step thread blocked: the engine's close joins it.
 */
public final class HoldingListener implements TokenListener, AutoCloseable {
    private final List<Integer> holdAt; // 1-based token numbers
    private final Semaphore reached = new Semaphore(0);
    private final Semaphore release = new Semaphore(0);
    private volatile boolean closed;
    private int tokens;

    public HoldingListener(Integer... holdAt) {
        this.holdAt = List.of(holdAt);
    }

    @Override
    public void onToken(String requestId, int token, String text) {
        if (!closed && holdAt.contains(++tokens)) {
            reached.release();
            release.acquireUninterruptibly();
        }
    }

    /** Waits until the step thread is held at the next chosen token. */
    public void awaitHeld() throws InterruptedException {
        assertTrue(reached.tryAcquire(10, TimeUnit.SECONDS), "the engine reached the held token");
    }

    /** Lets the step thread go on, to the next chosen token. */
    public void letGo() {
        release.release();
    }

    /** Holds no more and lets a held step thread go. */
    @Override
    public void close() {
        closed = true;
        release.release(holdAt.size());
    }
}
