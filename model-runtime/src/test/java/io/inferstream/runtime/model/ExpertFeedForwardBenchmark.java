package io.inferstream.runtime.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.tensor.Matrix;

/**
 * Not a test: what grouping a step's tokens by expert buys. One mixture-of-experts feed-forward layer of the bench's
 * Granite-MoE-1B shape (width 1024, 32 experts of 512, 8 per token; Q8_0 experts, F32 router) over n tokens, computed
 * as {@link ExpertFeedForward} does it (each expert multiplies all the tokens that chose it as one batch) and, the
 * baseline in the same run, token by token (n calls of one token: every chosen expert's weights read once per token).
 * Both give the same bits (the matmul kernels' (row, token) elements do not depend on the batch); the benchmark checks it.
 * Ten layers of distinct random weights (~0.5 GB) so that the weights stream from memory, as in a real model. Wall time,
 * the two ways alternating, median of 7 after 3 warm-up rounds.
 * Args: [tokens, default 1,4,16,64].
 *
 * <pre>java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:&lt;deps&gt; \
 *     io.inferstream.runtime.model.ExpertFeedForwardBenchmark</pre>
 */
public final class ExpertFeedForwardBenchmark {

    private static final int DIM = 1024;
    private static final int LAYERS = 10;

    public static void main(String[] args) {
        int[] tokens = Arrays.stream((args.length > 0 ? args[0] : "1,4,16,64").split(",")).mapToInt(Integer::parseInt).toArray();
        Experts shape = new Experts(32, 8, 512, true, 1f, 0);
        SplittableRandom rnd = new SplittableRandom(1);
        ExpertWeights[] layers = new ExpertWeights[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            layers[l] = layer(shape, rnd, l);
        }
        ExpertFeedForward grouped = new ExpertFeedForward(shape, DIM);
        ExpertFeedForward single = new ExpertFeedForward(shape, DIM);
        System.out.println("tokens,grouped_ms_per_token,token_by_token_ms_per_token,speedup,experts_run_last_layer");
        for (int n : tokens) {
            float[] x = new float[n * DIM];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            float[] a = new float[n * DIM];
            float[] b = new float[n * DIM];
            float[] one = new float[DIM];
            double[] tg = new double[7];
            double[] ts = new double[7];
            for (int run = -3; run < tg.length; run++) {
                long t0 = System.nanoTime();
                for (ExpertWeights w : layers) {
                    grouped.forward(w, x, n, a);
                }
                long t1 = System.nanoTime();
                for (ExpertWeights w : layers) {
                    for (int t = 0; t < n; t++) {
                        single.forward(w, Arrays.copyOfRange(x, t * DIM, (t + 1) * DIM), 1, one);
                        System.arraycopy(one, 0, b, t * DIM, DIM);
                    }
                }
                long t2 = System.nanoTime();
                if (!Arrays.equals(a, b)) {
                    throw new AssertionError("grouped and token-by-token outputs differ at " + n + " tokens");
                }
                if (run >= 0) {
                    tg[run] = (t1 - t0) / 1e6 / LAYERS / n;
                    ts[run] = (t2 - t1) / 1e6 / LAYERS / n;
                }
            }
            Arrays.sort(tg);
            Arrays.sort(ts);
            System.out.printf(Locale.ROOT, "%d,%.3f,%.3f,%.2f,%d%n", n, tg[3], ts[3], ts[3] / tg[3], grouped.expertsRun());
        }
    }

    private static ExpertWeights layer(Experts e, SplittableRandom rnd, int l) {
        Matrix[] gate = new Matrix[e.count()];
        Matrix[] up = new Matrix[e.count()];
        Matrix[] down = new Matrix[e.count()];
        for (int x = 0; x < e.count(); x++) {
            gate[x] = matrix(GgmlType.Q8_0, e.hidden(), DIM, rnd, "gate" + l + "." + x);
            up[x] = matrix(GgmlType.Q8_0, e.hidden(), DIM, rnd, "up" + l + "." + x);
            down[x] = matrix(GgmlType.Q8_0, DIM, e.hidden(), rnd, "down" + l + "." + x);
        }
        return new ExpertWeights(matrix(GgmlType.F32, e.count(), DIM, rnd, "router" + l), gate, up, down, null, null, null, null);
    }

    private static Matrix matrix(GgmlType type, int rows, int cols, SplittableRandom rnd, String name) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) ((rnd.nextDouble() * 2 - 1) * 0.05);
        }
        return Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)).order(ByteOrder.LITTLE_ENDIAN), rows, cols, name);
    }
}
