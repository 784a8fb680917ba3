package io.inferstream.runtime.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The process-wide pool that runs the kernels' parallel loops, sized by {@code -Dinferstream.threads}
 * (default: available processors).
 *
 * <p>{@link #parallelFor} splits its range into chunks that the calling thread and up to
 * {@code threads - 1} helper tasks claim from a shared counter. The caller always works too, so a call
 * completes even when every helper is busy elsewhere: calls from several threads at once, or nested
 * calls from inside a body, cannot deadlock; helpers only make it faster. A helper that starts after all
 * chunks are claimed returns at once. (A plain {@code invoke} would park the caller and pay a worker
 * wake-up on every one of the hundreds of matmuls a decode step makes.)
 */
public final class WorkerPool {

    private static final int THREADS = Math.max(1,
            Integer.getInteger("inferstream.threads", Runtime.getRuntime().availableProcessors()));
    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS - 1, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("inferstream-worker-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, true) : null;

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
        if (n == 1 || POOL == null) {
            for (int i = from; i < to; i++) {
                body.accept(i);
            }
            return;
        }
        int chunks = Math.min(n, THREADS * 4);
        Loop loop = new Loop(from, n, chunks, body);
        int helpers = Math.min(THREADS - 1, chunks - 1);
        for (int h = 0; h < helpers; h++) {
            POOL.execute(loop::work);
        }
        loop.work();
        loop.awaitDone();
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
            while ((c = next.getAndIncrement()) < chunks) {
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
