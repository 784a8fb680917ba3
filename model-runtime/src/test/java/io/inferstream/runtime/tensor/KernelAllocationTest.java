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
 * Once compiled, the Vector API kernels (every weight type's products, attention, the element-wise ops) keep their
 * vectors in registers. A kernel whose vectors C2 could not keep there (a variable shift count, too many inlined traps,
 * its accumulators handed to a method it left out of line) boxes them on every iteration of its loop and runs several
 * times slower; each has happened here (docs/benchmarks.md, the thirty-seventh, fortieth and forty-first sessions).
 * Timing would be noise on a shared machine; the bytes a call allocates are not. A loop that boxes allocates a vector
 * per 16 columns, over 100 KB per product at these shapes. The largest written-out kernels (F16's, Q4_0's, the
 * three-token ones) do box each accumulator once, after their loop: C2 stops inlining into a compile past
 * NodeCountInliningCutoff, so their laneSum calls stay out of line. That is 96 bytes per output and measured to cost
 * nothing (Q4_K at three tokens, 2048 × 8192: 1278-1328 µs, and 1292-1404 with those sums as reduceLanes calls, which
 * C2 inlines anyway), so the limit allows two vectors per output.
 */
class KernelAllocationTest {

    /** A boxed 512-bit FloatVector: the object and its float[16] payload. */
    private static final long BOX_BYTES = 96;
    private static final long LESS_THAN_A_BOX = BOX_BYTES - 1;
    private static final long COMPILE_DEADLINE_NANOS = 60_000_000_000L;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** A kernel call on fixed arrays, and the bytes one call may allocate once compiled. */
    private record Kernel(String name, Runnable call, long limit) {
    }

    @Test
    void compiledKernelsAllocateNextToNothing() {
        // pom.xml's test.argLine adds the module; a CPU with vectors under 256 bits runs the plain loops instead
        assumeTrue(VectorApiSupport.ENABLED, "the Vector API kernels do not run here (they need AVX2 or AVX-512 and "
                + "--add-modules jdk.incubator.vector); this JVM runs " + VectorApiSupport.describe());
        assertTrue(THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled());
        Random rnd = new Random(5);
        List<Kernel> kernels = new ArrayList<>(products(rnd));
        kernels.addAll(attentionAndElementwise(rnd));
        assertAllocateNextToNothing(kernels);
    }

    /**
     * Every weight type's products at 1, 2, 3 and 16 tokens: 16 × 2048 at up to 3 tokens, 4 × 1024 at 16 (the packed
     * tiles), all on the calling thread (under Matrix.PARALLEL_MIN_WORK), whose allocations the bean counts. The limit
     * is two boxed vectors per output (row, token), and the dispatch's objects.
     */
    private static List<Kernel> products(Random rnd) {
        List<Kernel> products = new ArrayList<>();
        // Q4_0 last: its kernels then compile after the others have left their traps in the Vector API's shared
        // methods, and at the default PerMethodTrapLimit they box (CompilerTrapLimit): in a Java 17 JVM without the
        // flag this fails, for Q4_0 and F16
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_1,
                GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q3_K, GgmlType.Q2_K,
                GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.Q4_0}) {
            for (int n : new int[] {1, 2, 3, 16}) {
                int rows = n == 16 ? 4 : 16;
                int cols = n == 16 ? 1024 : 2048;
                Matrix m = Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, gaussian(rnd, rows * cols))), rows,
                        cols, type + "-" + n);
                float[] x = gaussian(rnd, n * cols);
                float[] out = new float[n * rows];
                products.add(new Kernel(type + " × " + n + " tokens", () -> m.matmul(x, out, n),
                        2L * rows * n * BOX_BYTES + 1024));
            }
        }
        return products;
    }

    /**
     * The attention kernels over two KV blocks of VectorMath.lanes() positions (the block size they are fastest at)
     * and 64 dimensions, and the element-wise kernels over 2048 floats: less than one boxed vector a call.
     */
    private static List<Kernel> attentionAndElementwise(Random rnd) {
        int len = 64;
        int block = VectorMath.lanes();
        int n = 2048;
        float[] q = gaussian(rnd, 3 * len);
        float[] kT = gaussian(rnd, 2 * len * block);
        float[] v = gaussian(rnd, 2 * block * len);
        float[] scores = new float[3 * 2 * block];
        float[] y = new float[3 * len];
        float[] a = gaussian(rnd, n);
        float[] b = gaussian(rnd, n);
        float[] weight = gaussian(rnd, n);
        float[] out = new float[n];
        float[] stats = new float[2];
        short[] halves = new short[n];
        float scale = 0.125f;
        int kB = len * block;
        int vB = block * len;
        return List.of(
                new Kernel("keyScores", () -> VectorMath.keyScores(q, 0, len, true, kT, 0, block, block, len, scale,
                        scores, 0, block), LESS_THAN_A_BOX),
                new Kernel("keyScores3", () -> VectorMath.keyScores3(q, 0, len, 2 * len, kT, 0, block, block, len,
                        scale, scores, 0, block, 2 * block), LESS_THAN_A_BOX),
                new Kernel("keyScoresPair", () -> VectorMath.keyScoresPair(q, 0, len, true, kT, 0, kB, block, block,
                        block, len, scale, scores, 0, 2 * block), LESS_THAN_A_BOX),
                new Kernel("keyScores3Pair", () -> VectorMath.keyScores3Pair(q, 0, len, 2 * len, kT, 0, kB, block,
                        block, block, len, scale, scores, 0, 2 * block, 4 * block), LESS_THAN_A_BOX),
                new Kernel("axpyRows", () -> VectorMath.axpyRows(scores, 0, v, 0, len, block, y, 0, len),
                        LESS_THAN_A_BOX),
                new Kernel("axpyRows3", () -> VectorMath.axpyRows3(scores, 0, 2 * block, 4 * block, v, 0, len, block,
                        y, 0, len, 2 * len, len), LESS_THAN_A_BOX),
                new Kernel("axpyRows3Pair", () -> VectorMath.axpyRows3Pair(scores, 0, 2 * block, 4 * block, v, 0,
                        block, vB, block, len, y, 0, len, 2 * len, len), LESS_THAN_A_BOX),
                new Kernel("dot", () -> out[0] = VectorMath.dot(a, 0, b, 0, n), LESS_THAN_A_BOX),
                new Kernel("rmsnorm", () -> VectorMath.rmsnorm(out, 0, a, 0, weight, n, 1e-5f), LESS_THAN_A_BOX),
                new Kernel("softmax", () -> {
                    System.arraycopy(a, 0, out, 0, n);
                    VectorMath.softmax(out, 0, n, stats, 0);
                }, LESS_THAN_A_BOX),
                new Kernel("logSumExp", () -> out[0] = (float) VectorMath.logSumExp(a, 0, n), LESS_THAN_A_BOX),
                new Kernel("silu", () -> {
                    System.arraycopy(a, 0, out, 0, n);
                    VectorMath.silu(out, 0, n);
                }, LESS_THAN_A_BOX),
                new Kernel("swiglu", () -> {
                    System.arraycopy(a, 0, out, 0, n);
                    VectorMath.swiglu(out, b, 0, n);
                }, LESS_THAN_A_BOX),
                new Kernel("geglu", () -> {
                    System.arraycopy(a, 0, out, 0, n);
                    VectorMath.geglu(out, b, 0, n);
                }, LESS_THAN_A_BOX),
                new Kernel("add", () -> VectorMath.add(out, 0, a, 0, n), LESS_THAN_A_BOX),
                new Kernel("axpy", () -> VectorMath.axpy(0.5f, a, 0, out, 0, n), LESS_THAN_A_BOX),
                new Kernel("scale", () -> VectorMath.scale(out, 0, n, 0.5f), LESS_THAN_A_BOX),
                new Kernel("f16ToF32", () -> VectorMath.f16ToF32(halves, 0, out, 0, n), LESS_THAN_A_BOX));
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static void assertAllocateNextToNothing(List<Kernel> kernels) {
        // all kernels run in turns, so that C2 compiles them side by side; a kernel passes with its first
        // window of calls that allocates next to nothing, and fails if none has by the deadline
        long thread = Thread.currentThread().getId();
        long deadline = System.nanoTime() + COMPILE_DEADLINE_NANOS;
        long[] last = new long[kernels.size()];
        boolean[] clean = new boolean[kernels.size()];
        int left = kernels.size();
        while (left > 0 && System.nanoTime() < deadline) {
            for (int k = 0; k < kernels.size(); k++) {
                if (clean[k]) {
                    continue;
                }
                Kernel p = kernels.get(k);
                for (int i = 0; i < 100; i++) {
                    p.call().run();
                }
                long before = THREADS.getThreadAllocatedBytes(thread);
                for (int i = 0; i < 50; i++) {
                    p.call().run();
                }
                last[k] = (THREADS.getThreadAllocatedBytes(thread) - before) / 50;
                if (last[k] <= p.limit()) {
                    clean[k] = true;
                    left--;
                }
            }
        }
        List<String> failures = new ArrayList<>();
        for (int k = 0; k < kernels.size(); k++) {
            System.out.println(kernels.get(k).name() + ": " + last[k] + " bytes a call");
            if (!clean[k]) {
                failures.add(kernels.get(k).name() + ": " + last[k] + " bytes a call, " + kernels.get(k).limit()
                        + " at most");
            }
        }
        assertTrue(failures.isEmpty(), "kernels that still allocate once compiled (boxed vectors?): " + failures);
    }
}
