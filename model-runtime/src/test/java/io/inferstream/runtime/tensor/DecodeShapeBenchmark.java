package io.inferstream.runtime.tensor;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Not a test: times the matmuls of one forward step of a model of a real shape (default SmolLM2-135M: dim 576,
 * 30 layers, 9 query / 3 KV heads of 64, FFN 1536, vocab 49152, tied output; or llama-3.2-1b) in one weight
 * type, for n tokens, and prints weight GB/s and tokens/s of the matmuls alone. Every layer has its own random
 * matrices, so the weights stream from memory as in a real model. Args: [type] [tokens,...] [shape].
 */
public final class DecodeShapeBenchmark {

    public static void main(String[] args) {
        GgmlType type = GgmlType.valueOf(args.length > 0 ? args[0] : "Q8_0");
        String[] tokens = (args.length > 1 ? args[1] : "1,16").split(",");
        ModelShape shape = ModelShape.byName(args.length > 2 ? args[2] : "smollm2-135m");
        int dim = shape.dim();
        int q = shape.nHeads() * shape.headDim();
        int kv = shape.nKvHeads() * shape.headDim();
        int ffn = shape.hiddenDim();
        int vocab = shape.vocabSize();
        int layers = shape.nLayers();
        Random rnd = new Random(2);
        int[][] shapes = {{q, dim}, {kv, dim}, {kv, dim}, {dim, q}, {ffn, dim}, {ffn, dim}, {dim, ffn}};
        List<Matrix[]> copies = new ArrayList<>();
        long layerBytes = 0;
        for (int copy = 0; copy < layers; copy++) {
            Matrix[] layer = new Matrix[shapes.length];
            for (int i = 0; i < shapes.length; i++) {
                layer[i] = random(type, shapes[i][0], shapes[i][1], rnd);
                if (copy == 0) {
                    layerBytes += type.bytesFor((long) shapes[i][0] * shapes[i][1]);
                }
            }
            copies.add(layer);
        }
        Matrix output = random(type, vocab, dim, rnd);
        long totalBytes = layers * layerBytes + type.bytesFor((long) vocab * dim);
        System.out.printf("kernels: %s, threads %d, %s %s weights %.1f MB per step%n", VectorMath.kernelDescription(),
                WorkerPool.threads(), shape.name(), type, totalBytes / 1e6);
        // Ceiling: streaming the same number of bytes as floats through a dot product on all threads.
        float[] big = new float[(int) (totalBytes / 4)];
        java.util.Arrays.fill(big, 1f);
        int parts = WorkerPool.threads() * 4;
        float[] partial = new float[parts];
        Runnable read = () -> WorkerPool.parallelFor(0, parts, p -> {
            int lo = (int) ((long) big.length * p / parts);
            int hi = (int) ((long) big.length * (p + 1) / parts);
            partial[p] = VectorMath.dot(big, lo, big, lo, hi - lo);
        });
        double readSec = time(read, 2_000_000_000L);
        System.out.printf("memory read ceiling: %.1f GB/s (%.2f ms per %.1f MB)%n", totalBytes / readSec / 1e9,
                readSec * 1e3, totalBytes / 1e6);
        for (String tk : tokens) {
            int n = Integer.parseInt(tk);
            float[] x = new float[n * ffn];
            float[] out = new float[n * vocab];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            Runnable step = () -> {
                for (int l = 0; l < layers; l++) {
                    for (Matrix m : copies.get(l % copies.size())) {
                        m.matmul(x, out, n);
                    }
                }
                output.matmul(x, out, n);
            };
            double sec = time(step, 3_000_000_000L);
            System.out.printf("n=%-3d step %8.2f ms  %6.1f GB/s  %8.1f tokens/s (matmuls only)%n", n, sec * 1e3,
                    totalBytes / sec / 1e9, n / sec);
            if (Boolean.getBoolean("breakdown")) {
                // each shape alone over all layers (weights still streaming from memory), then the output
                for (int i = 0; i < shapes.length; i++) {
                    int k = i;
                    double s = time(() -> {
                        for (int l = 0; l < layers; l++) {
                            copies.get(l)[k].matmul(x, out, n);
                        }
                    }, 1_000_000_000L);
                    long bytes = layers * type.bytesFor((long) shapes[k][0] * shapes[k][1]);
                    System.out.printf("      %5d x %-5d x %d layers %8.2f ms  %6.1f GB/s%n", shapes[k][0], shapes[k][1],
                            layers, s * 1e3, bytes / s / 1e9);
                }
                double s = time(() -> output.matmul(x, out, n), 1_000_000_000L);
                System.out.printf("      %5d x %-5d output     %8.2f ms  %6.1f GB/s%n", vocab, dim, s * 1e3,
                        type.bytesFor((long) vocab * dim) / s / 1e9);
            }
        }
    }

    /** Seconds per run after warming up for {@code nanos}, timed over {@code nanos}. */
    private static double time(Runnable r, long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() < end) {
            r.run();
        }
        int iters = 0;
        long start = System.nanoTime();
        long now;
        do {
            r.run();
            iters++;
            now = System.nanoTime();
        } while (now - start < nanos);
        return (now - start) / 1e9 / iters;
    }

    private static Matrix random(GgmlType type, int rows, int cols, Random rnd) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (rnd.nextFloat() - 0.5f) * 0.1f;
        }
        return Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, "w");
    }
}
