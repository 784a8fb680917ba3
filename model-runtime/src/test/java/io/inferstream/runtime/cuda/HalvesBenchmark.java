package io.inferstream.runtime.cuda;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.tensor.Matrix;
import io.inferstream.runtime.tensor.WorkerPool;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Not a test: a main that times the host side of uploading weights the GPU cannot read as they are
 * ({@link DeviceMatrix#halves}: rows decoded and rounded to 16 bits on the worker pool) against the one-thread loop it
 * replaced, in the same run, and prints the ratio (medians of 3). Run: {@code java --add-modules jdk.incubator.vector
 * -cp model-runtime/target/classes:model-runtime/target/test-classes:<deps> io.inferstream.runtime.cuda.HalvesBenchmark
 * [type] [matrices]} (default Q4_K, 8: Llama-3.2-1B's gate, up and down shapes in turn).
 */
public final class HalvesBenchmark {

    public static void main(String[] args) {
        GgmlType type = GgmlType.valueOf(args.length > 0 ? args[0] : "Q4_K");
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int[][] shapes = {{8192, 2048}, {8192, 2048}, {2048, 8192}};
        List<Matrix> matrices = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(1);
        long weights = 0;
        for (int i = 0; i < count; i++) {
            int rows = shapes[i % 3][0];
            int cols = shapes[i % 3][1];
            float[] w = new float[rows * cols];
            for (int j = 0; j < w.length; j++) {
                w[j] = (float) rnd.nextDouble(-1, 1);
            }
            matrices.add(Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, "w" + i));
            weights += (long) rows * cols;
        }
        double[][] seconds = new double[2][3];
        for (int rep = 0; rep < 3; rep++) {
            for (int way = 0; way < 2; way++) {
                long t0 = System.nanoTime();
                long check = 0;
                for (Matrix m : matrices) {
                    short[] h = way == 0 ? oneThread(m) : DeviceMatrix.halves(m, GgmlType.F16);
                    check += h[h.length / 3];
                }
                seconds[way][rep] = (System.nanoTime() - t0) / 1e9;
                if (check == Long.MIN_VALUE) {
                    System.out.println(); // keeps the results alive
                }
            }
        }
        Arrays.sort(seconds[0]);
        Arrays.sort(seconds[1]);
        System.out.printf(java.util.Locale.ROOT, "%s -> F16, %d matrices, %.0f M weights: one thread %.2f s, "
                        + "DeviceMatrix.halves on %d threads %.2f s: %.2fx (medians of 3)%n", type, count, weights / 1e6,
                seconds[0][1], WorkerPool.threads(), seconds[1][1], seconds[0][1] / seconds[1][1]);
    }

    /** The upload's loop before it ran on the worker pool. */
    private static short[] oneThread(Matrix m) {
        int rows = m.rows();
        int cols = m.cols();
        short[] h = new short[rows * cols];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            m.dequantizeRow(r, row, 0);
            for (int c = 0; c < cols; c++) {
                h[r * cols + c] = Float16.fromFloat(row[c]);
            }
        }
        return h;
    }
}
