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
 * not change the arithmetic, so it is not filled first. Wall time, the two models' steps alternating, median of 9 after
 * 6 warm-up steps each.
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
        System.out.println("sequences,position,windowed_ms,global_ms,global_over_windowed");
        try (GgufFile wf = GgufFile.open(RandomModelWriter.cached(windowed, GgmlType.Q8_0, 1));
             GgufFile gf = GgufFile.open(RandomModelWriter.cached(global, GgmlType.Q8_0, 1));
             LlamaModel w = LlamaModel.load(wf);
             LlamaModel g = LlamaModel.load(gf)) {
            for (int s : sequences) {
                for (int p : positions) {
                    // the two models' steps alternate, so a noisy stretch of the machine hits both
                    Step a = new Step(w, s, p, precision);
                    Step b = new Step(g, s, p, precision);
                    double[] ta = new double[9];
                    double[] tb = new double[9];
                    for (int run = -6; run < ta.length; run++) {
                        double x = a.run();
                        double y = b.run();
                        if (run >= 0) {
                            ta[run] = x;
                            tb[run] = y;
                        }
                    }
                    java.util.Arrays.sort(ta);
                    java.util.Arrays.sort(tb);
                    System.out.printf(java.util.Locale.ROOT, "%d,%d,%.1f,%.1f,%.2f%n", s, p, ta[4], tb[4], tb[4] / ta[4]);
                }
            }
        }
    }

    /** One decode step of {@code s} sequences, each at position {@code p}, over its own KV cache. */
    private static final class Step {
        private final LlamaModel model;
        private final KvStore kv;
        private final TokenBatch batch;

        Step(LlamaModel model, int s, int p, KvStore.Precision precision) {
            int bs = 16;
            int perSeq = p / bs + 1;
            this.model = model;
            this.kv = model.newKvStore(s * perSeq, bs, precision);
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
            this.batch = new TokenBatch(tokens, pos, seq, tables, seq.clone());
        }

        /** Wall milliseconds of the step. */
        double run() {
            long t0 = System.nanoTime();
            model.forward(batch, kv);
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static int[] ints(String csv) {
        return java.util.Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}
