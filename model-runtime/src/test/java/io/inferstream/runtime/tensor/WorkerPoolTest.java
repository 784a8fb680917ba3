package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {0, 1, 2, 3, 7, 100, 1001}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n + 10);
            WorkerPool.parallelFor(10, 10 + n, i -> hits.incrementAndGet(i));
            for (int i = 0; i < n + 10; i++) {
                assertEquals(i < 10 ? 0 : 1, hits.get(i), "index " + i + " of " + n);
            }
        }
    }

    @Test
    void concurrentAndNestedCallsFinishWithoutDeadlock() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            ExecutorService callers = Executors.newFixedThreadPool(6);
            try {
                List<Future<Long>> results = new ArrayList<>();
                for (int c = 0; c < 6; c++) {
                    results.add(callers.submit(() -> {
                        long[] sums = new long[50];
                        for (int rep = 0; rep < 200; rep++) {
                            WorkerPool.parallelFor(0, 50, i -> {
                                long[] inner = new long[20];
                                WorkerPool.parallelFor(0, 20, j -> inner[j] = i * 20L + j);
                                long s = 0;
                                for (long v : inner) {
                                    s += v;
                                }
                                sums[i] = s;
                            });
                        }
                        long total = 0;
                        for (long s : sums) {
                            total += s;
                        }
                        return total;
                    }));
                }
                for (Future<Long> f : results) {
                    assertEquals(999L * 1000 / 2, f.get()); // Σ 0..999
                }
            } finally {
                callers.shutdownNow();
            }
        });
    }

    @Test
    void aCallFromInsideABodyRunsInlineOnThatBodysThread() {
        // the outer loop spreads the work; an inner loop (an expert's products) stays on the thread that runs its item
        for (int rep = 0; rep < 50; rep++) {
            Thread[][] ran = new Thread[8][16];
            Thread[] outer = new Thread[8];
            WorkerPool.parallelFor(0, 8, i -> {
                outer[i] = Thread.currentThread();
                WorkerPool.parallelFor(0, 16, j -> ran[i][j] = Thread.currentThread());
            });
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < 16; j++) {
                    assertSame(outer[i], ran[i][j], "inner index " + j + " of outer " + i);
                }
            }
        }
        // outside any body, a loop still spreads over the pool
        java.util.Set<Thread> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        for (int rep = 0; rep < 200 && threads.size() < Math.min(2, WorkerPool.threads()); rep++) {
            WorkerPool.parallelFor(0, 64, i -> {
                threads.add(Thread.currentThread());
                long spin = System.nanoTime() + 20_000;
                while (System.nanoTime() < spin) {
                    Thread.onSpinWait();
                }
            });
        }
        assertEquals(Math.min(2, WorkerPool.threads()), threads.size(), "a top-level loop ran on helpers too");
    }

    @Test
    void aParkedHelperWakesForTheNextLoopAndTakesPartInIt() throws Exception {
        assumeTrue(WorkerPool.threads() > 1, "one kernel thread here (-Dinferstream.threads or one CPU): no helper to wake");
        for (int round = 0; round < 20; round++) {
            // idle long enough for the helpers to stop spinning and park (every few rounds), or to be caught mid-spin
            Thread.sleep(round % 4 == 0 ? 5 : round % 4);
            CountDownLatch both = new CountDownLatch(2);
            Set<Thread> threads = ConcurrentHashMap.newKeySet();
            WorkerPool.parallelFor(0, 2, i -> {
                threads.add(Thread.currentThread());
                both.countDown();
                try {
                    // each index waits for the other: only passes when a helper runs one while the caller runs the other
                    assertTrue(both.await(10, TimeUnit.SECONDS), "no helper took index " + (1 - i));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertEquals(2, threads.size(), "round " + round + ": " + threads);
        }
    }

    @Test
    void aFailingBodyPropagatesToTheCaller() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> WorkerPool.parallelFor(0, 64, i -> {
                    if (i == 37) {
                        throw new IllegalStateException("boom at " + i);
                    }
                }));
        assertEquals("boom at 37", e.getMessage());
    }
}
