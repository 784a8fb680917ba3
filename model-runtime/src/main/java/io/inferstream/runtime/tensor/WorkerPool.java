package io.inferstream.runtime.tensor;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The process-wide helper threads that run the kernels' parallel loops, sized by {@code -Dinferstream.threads}
 * (default: available processors; the calling thread is one of them).
 *
 * <p>{@link #parallelFor} splits its range into chunks that the calling thread and the helpers claim from a
 * shared counter. The caller always works too, so a call completes even when every helper is busy elsewhere:
 * calls from several threads at once, or nested calls from inside a body, cannot deadlock; helpers only make
 * it faster. A helper that finds all chunks claimed moves on. A call from inside a body runs inline on that thread:
 * the outer loop already spreads the work, and handing a small inner loop to a busy pool only costs (the mixture of
 * experts runs whole experts as the outer loop's items, each expert's products inside).
 *
 * <p><b>Why helpers spin.</b> A decode step of a small model is hundreds of parallel loops of 10-60 µs each,
 * a few microseconds apart. A parked thread takes longer than that to wake (futex, scheduler), so with a
 * plain thread pool the caller had claimed every chunk before the helper woke: single-token decode ran on one
 * core (SmolLM2-135M, JFR: the engine thread had 93 % of the samples, the helper 5 %). So after its last chunk
 * a helper spins for {@code -Dinferstream.spinMicros} (default 200 µs) watching for the next loop, and only
 * then parks; the next call unparks it. Between steps and when idle it costs nothing; within a step it keeps
 * one core busy waiting for at most that long between loops.
 */
public final class WorkerPool {

    private static final int THREADS = Math.max(1,
            Integer.getInteger("inferstream.threads", Runtime.getRuntime().availableProcessors()));
    private static final long SPIN_NANOS = Math.max(0, Long.getLong("inferstream.spinMicros", 200)) * 1000;
    /** Loops that may still have unclaimed chunks, oldest first. */
    private static final ConcurrentLinkedQueue<Loop> PENDING = new ConcurrentLinkedQueue<>();
    private static final Helper[] HELPERS = startHelpers();
    /** [0]: how many loop bodies this thread is inside. */
    private static final ThreadLocal<int[]> INSIDE = ThreadLocal.withInitial(() -> new int[1]);

    private WorkerPool() {
    }

    /** Threads that run a parallel loop, the caller included. */
    public static int threads() {
        return THREADS;
    }

    /** Runs {@code body} for every index in [from, to), spread over the pool; returns when all are done. */
    public static void parallelFor(int from, int to, IntConsumer body) {
        int n = to - from;
        if (n <= 0) {
            return;
        }
        if (n == 1 || THREADS == 1 || INSIDE.get()[0] > 0) {
            for (int i = from; i < to; i++) {
                body.accept(i);
            }
            return;
        }
        int chunks = Math.min(n, THREADS * 4);
        Loop loop = new Loop(from, n, chunks, body);
        PENDING.offer(loop);
        for (Helper h : HELPERS) {
            if (h.parked) {
                LockSupport.unpark(h.thread);
            }
        }
        loop.work();
        PENDING.remove(loop);
        loop.awaitDone();
    }

    private static Helper[] startHelpers() {
        Helper[] helpers = new Helper[THREADS - 1];
        for (int i = 0; i < helpers.length; i++) {
            helpers[i] = new Helper();
            Thread t = new Thread(helpers[i]::run, "inferstream-worker-" + i);
            t.setDaemon(true);
            helpers[i].thread = t;
        }
        for (Helper h : helpers) {
            h.thread.start();
        }
        return helpers;
    }

    /** One helper thread: works pending loops, spins a while when there are none, then parks. */
    private static final class Helper {
        Thread thread;
        volatile boolean parked;

        void run() {
            long idleSince = System.nanoTime();
            while (true) {
                Loop loop = PENDING.peek();
                if (loop != null) {
                    loop.work();
                    PENDING.remove(loop); // every chunk is claimed: nothing left for others to find
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    if (PENDING.isEmpty()) { // a loop offered before the flag was seen is found here
                        LockSupport.park(this);
                    }
                    parked = false;
                    idleSince = System.nanoTime();
                }
            }
        }
    }

    /** One parallelFor call: chunks claimed by index, completion counted. */
    private static final class Loop {
        private final int from;
        private final int n;
        private final int chunks;
        private final IntConsumer body;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger done = new AtomicInteger();
        private volatile Throwable failure;

        Loop(int from, int n, int chunks, IntConsumer body) {
            this.from = from;
            this.n = n;
            this.chunks = chunks;
            this.body = body;
        }

        void work() {
            int c;
            int[] inside = INSIDE.get();
            while ((c = next.getAndIncrement()) < chunks) {
                inside[0]++;
                try {
                    if (failure == null) {
                        int lo = from + (int) ((long) n * c / chunks);
                        int hi = from + (int) ((long) n * (c + 1) / chunks);
                        for (int i = lo; i < hi; i++) {
                            body.accept(i);
                        }
                    }
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    inside[0]--;
                    done.incrementAndGet();
                }
            }
        }

        void awaitDone() {
            // The chunks still running on helpers are short (microseconds): spin, then back off.
            for (int spins = 0; done.get() < chunks; spins++) {
                if (spins < 2000) {
                    Thread.onSpinWait();
                } else if (spins < 4000) {
                    Thread.yield();
                } else {
                    LockSupport.parkNanos(20_000);
                }
            }
            Throwable t = failure;
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new RuntimeException(t);
            }
        }
    }
}
