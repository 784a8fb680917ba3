package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Once compiled, a product's kernels keep their vectors in registers. A kernel whose vectors C2 could not keep there
 * (a variable shift count, too many inlined traps, its accumulators handed to a method it left out of line) boxes
 * them on every iteration of its loop and runs several times slower; each has happened here (docs/benchmarks.md, the
 * thirty-seventh, fortieth and forty-first sessions). Timing would be noise on a shared machine; the bytes a product
 * allocates are not. A loop that boxes allocates a vector per 16 columns, over 100 KB per product at these shapes.
 * The largest written-out kernels (F16's, Q4_0's, the three-token ones) do box each accumulator once, after their
 * loop: C2 stops inlining into a compile past NodeCountInliningCutoff, so their laneSum calls stay out of line. That
 * is 96 bytes per output and measured to cost nothing (Q4_K at three tokens, 2048 × 8192: 1278-1328 µs, and
 * 1292-1404 with those sums as reduceLanes calls, which C2 inlines anyway), so the limit allows two vectors per output.
 */
class KernelAllocationTest {

    /** A boxed 512-bit FloatVector: the object and its float[16] payload. */
    private static final long BOX_BYTES = 96;
    private static final long COMPILE_DEADLINE_NANOS = 60_000_000_000L;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private record Product(String name, Matrix m, float[] x, float[] out, int n) {
        void run() {
            m.matmul(x, out, n);
        }

        /** Two boxed vectors per output (row, token), and the dispatch's objects. */
        long limit() {
            return 2L * m.rows * n * BOX_BYTES + 1024;
        }
    }

    @Test
    void compiledProductsOfEveryTypeAndTokenCountAllocateNextToNothing() {
        // pom.xml's test.argLine adds the module; a CPU with vectors under 256 bits runs the plain loops instead
        assumeTrue(VectorApiSupport.ENABLED, "the Vector API kernels do not run here: " + VectorApiSupport.describe());
        assertTrue(THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled());
        // 16 × 2048 at up to 3 tokens stays on the calling thread (Matrix.PARALLEL_MIN_WORK), whose allocations the
        // bean counts; 16 tokens take the packed tiles, also serial at 4 × 1024
        Random rnd = new Random(5);
        List<Product> products = new ArrayList<>();
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
                GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q3_K,
                GgmlType.Q2_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS}) {
            for (int n : new int[] {1, 2, 3, 16}) {
                int rows = n == 16 ? 4 : 16;
                int cols = n == 16 ? 1024 : 2048;
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) rnd.nextGaussian();
                }
                Matrix m = Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, type + "-" + n);
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                products.add(new Product(type + " × " + n + " tokens", m, x, new float[n * rows], n));
            }
        }
        // all products run in turns, so that C2 compiles their kernels side by side; a product passes with its first
        // window of products that allocates next to nothing, and fails if none has by the deadline
        long thread = Thread.currentThread().getId();
        long deadline = System.nanoTime() + COMPILE_DEADLINE_NANOS;
        long[] last = new long[products.size()];
        boolean[] clean = new boolean[products.size()];
        int left = products.size();
        while (left > 0 && System.nanoTime() < deadline) {
            for (int k = 0; k < products.size(); k++) {
                if (clean[k]) {
                    continue;
                }
                Product p = products.get(k);
                for (int i = 0; i < 100; i++) {
                    p.run();
                }
                long before = THREADS.getThreadAllocatedBytes(thread);
                for (int i = 0; i < 50; i++) {
                    p.run();
                }
                last[k] = (THREADS.getThreadAllocatedBytes(thread) - before) / 50;
                if (last[k] <= p.limit()) {
                    clean[k] = true;
                    left--;
                }
            }
        }
        List<String> failures = new ArrayList<>();
        for (int k = 0; k < products.size(); k++) {
            System.out.println(products.get(k).name() + ": " + last[k] + " bytes a product");
            if (!clean[k]) {
                failures.add(products.get(k).name() + ": " + last[k] + " bytes a product, " + products.get(k).limit()
                        + " at most");
            }
        }
        assertTrue(failures.isEmpty(), "products that still allocate once compiled (boxed vectors?): " + failures);
    }
}
