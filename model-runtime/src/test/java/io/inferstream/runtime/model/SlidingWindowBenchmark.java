package io.inferstream.runtime.model;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;

/**
 * Not a test: what Gemma 3's sliding-window layers save in a decode step deep into a context. Times one decode step of
 * {@code s} sequences, each at position p, on the bench's random-weights Gemma-3-1B shape (five of six layers see 512
 * positions) and on the same shape with every layer global. Attention's cost is what differs; the cache's contents do
 * not change the arithmetic, so it is not filled first. Wall time, median of 7 after 3 warm-up steps.
 * Args: [positions, default 512,2048,4096] [sequences, default 1,8] [F32|F16 KV, default F16].
 *
 * <pre>java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:&lt;deps&gt; \
 *     io.inferstream.runtime.model.SlidingWindowBenchmark</pre>
 */
public final class SlidingWindowBenchmark {

    public static void main(String[] args) {
        int[] positions = ints(args.length > 0 ? args[0] : "512,2048,4096");
        int[] sequences = ints(args.length > 1 ? args[1] : "1,8");
        KvStore.Precision precision = KvStore.Precision.valueOf(args.length > 2 ? args[2] : "F16");
        ModelShape windowed = ModelShape.GEMMA3_1B;
        ModelShape global = new ModelShape("gemma3-1b-global", "gemma3", windowed.dim(), windowed.hiddenDim(), windowed.nLayers(),
                windowed.nHeads(), windowed.nKvHeads(), windowed.headDim(), windowed.vocabSize(), windowed.contextLength(),
                windowed.ropeTheta(), true, 0);
        System.out.println("model,sequences,position,step_ms,tok_s");
        for (ModelShape shape : new ModelShape[] {windowed, global}) {
            try (GgufFile file = GgufFile.open(RandomModelWriter.cached(shape, GgmlType.Q8_0, 1));
                 LlamaModel model = LlamaModel.load(file)) {
                for (int s : sequences) {
                    for (int p : positions) {
                        double ms = step(model, s, p, precision);
                        System.out.printf(java.util.Locale.ROOT, "%s,%d,%d,%.1f,%.1f%n", shape.name(), s, p, ms, s * 1e3 / ms);
                    }
                }
            }
        }
    }

    /** Median wall time of one decode step of {@code s} sequences at position {@code p}. */
    private static double step(LlamaModel model, int s, int p, KvStore.Precision precision) {
        int bs = 16;
        int perSeq = p / bs + 1;
        KvStore kv = model.newKvStore(s * perSeq, bs, precision);
        int[][] tables = new int[s][perSeq];
        int[] tokens = new int[s];
        int[] pos = new int[s];
        int[] seq = new int[s];
        for (int i = 0; i < s; i++) {
            for (int b = 0; b < perSeq; b++) {
                tables[i][b] = i * perSeq + b;
            }
            tokens[i] = 7 + i;
            pos[i] = p;
            seq[i] = i;
        }
        int[] rows = new int[s];
        for (int i = 0; i < s; i++) {
            rows[i] = i;
        }
        double[] ms = new double[7];
        for (int run = -3; run < ms.length; run++) {
            long t0 = System.nanoTime();
            model.forward(new TokenBatch(tokens, pos, seq, tables, rows), kv);
            if (run >= 0) {
                ms[run] = (System.nanoTime() - t0) / 1e6;
            }
        }
        java.util.Arrays.sort(ms);
        return ms[3];
    }

    private static int[] ints(String csv) {
        return java.util.Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}
