package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import java.util.Random;

/**
 * Not a test: a main that times {@link Matrix#matmul} per type and shape and prints GB/s of weight bytes
 * (GGUF size) and GFLOP/s. Run: {@code java --add-modules jdk.incubator.vector -cp
 * model-runtime/target/classes:model-runtime/target/test-classes io.inferstream.runtime.tensor.MatmulBenchmark
 * [types] [shapes rowsxcols,...] [tokens,...]}. With {@code -Dinferstream.threads=1} it reports the calling
 * thread's CPU time instead of wall time (meaningful on a loaded machine). With {@code -DcopiesMiB=N} it cycles
 * through copies of the matrix holding at least N MiB together (more than the last-level cache: the weights then
 * come from memory each call, as a model's layers do in the engine) instead of one matrix that stays in cache.
 */
public final class MatmulBenchmark {

    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        String[] types = (args.length > 0 ? args[0] : "Q8_0,Q4_0,Q4_K,Q6_K,F16,BF16,F32").split(",");
        String[] shapes = (args.length > 1 ? args[1] : "576x1536,1536x576,2048x8192").split(",");
        String[] tokens = (args.length > 2 ? args[2] : "1,16").split(",");
        System.out.println("kernels: " + VectorMath.kernelDescription() + ", threads " + WorkerPool.threads());
        Random rnd = new Random(1);
        for (String shape : shapes) {
            int rows = Integer.parseInt(shape.split("x")[0]);
            int cols = Integer.parseInt(shape.split("x")[1]);
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian();
            }
            for (String typeName : types) {
                GgmlType type = GgmlType.valueOf(typeName);
                byte[] bytes = Quantizer.quantize(type, w);
                Matrix m = Matrix.of(type, ByteBuffer.wrap(bytes), rows, cols, "bench");
                long copiesBytes = Long.getLong("copiesMiB", 0) << 20;
                Matrix[] ms = new Matrix[(int) Math.max(1, (copiesBytes + bytes.length - 1) / bytes.length)];
                ms[0] = m;
                for (int c = 1; c < ms.length; c++) {
                    ms[c] = Matrix.of(type, ByteBuffer.wrap(bytes.clone()), rows, cols, "bench");
                }
                for (String tk : tokens) {
                    int n = Integer.parseInt(tk);
                    float[] x = new float[n * cols];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = (float) rnd.nextGaussian();
                    }
                    float[] out = new float[n * rows];
                    // check the timed (vector) path against the scalar one before timing it
                    float[] ref = new float[n * rows];
                    m.matmul(x, out, n);
                    m.matmul(x, ref, n, false);
                    double err = 0;
                    double norm = 0;
                    for (int i = 0; i < out.length; i++) {
                        err += (out[i] - ref[i]) * (double) (out[i] - ref[i]);
                        norm += ref[i] * (double) ref[i];
                    }
                    double relErr = Math.sqrt(err / norm);
                    // warm up ~0.5 s, then time ~1 s
                    long end = System.nanoTime() + Long.getLong("warmupMs", 1500) * 1_000_000L;
                    int next = 0;
                    while (System.nanoTime() < end) {
                        ms[next++ % ms.length].matmul(x, out, n);
                    }
                    int iters = 0;
                    long cpuStart = CPU.getCurrentThreadCpuTime();
                    long start = System.nanoTime();
                    end = start + 1_000_000_000L;
                    long now;
                    do {
                        ms[next++ % ms.length].matmul(x, out, n);
                        iters++;
                        now = System.nanoTime();
                    } while (now < end);
                    double sec = (now - start) / 1e9 / iters;
                    // On a shared machine wall time includes time the thread waited for a core; with one
                    // thread the caller's CPU time is the kernel's own time.
                    if (WorkerPool.threads() == 1) {
                        sec = (CPU.getCurrentThreadCpuTime() - cpuStart) / 1e9 / iters;
                    }
                    System.out.printf("%-5s %5dx%-5d n=%-3d %9.1f us  %6.1f GB/s  %6.1f GFLOP/s  (vs scalar: %.1e)%n",
                            type, rows, cols, n, sec * 1e6, bytes.length / sec / 1e9, 2.0 * rows * cols * n / sec / 1e9,
                            relErr);
                }
            }
        }
    }
}
