package io.inferstream.runtime.model;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;

/**
 * Not a test: times the prefill of one long prompt, as a summarization request has, through {@link LlamaModel#forward}
 * in chunks of 512 tokens (the engine's default token budget per step) on the bench's random-weights SmolLM2-135M
 * file. Attention grows with the square of the prompt, so this is where it shows. Wall time, median of 5 after 2
 * warm-up runs. Args: [prompt tokens, default 2048] [type, default Q8_0] [F32|F16 KV].
 *
 * <pre>java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:&lt;deps&gt; \
 *     io.inferstream.runtime.model.LongPromptBenchmark 2048</pre>
 */
public final class LongPromptBenchmark {

    public static void main(String[] args) {
        int length = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        GgmlType type = GgmlType.valueOf(args.length > 1 ? args[1] : "Q8_0");
        KvStore.Precision precision = KvStore.Precision.valueOf(args.length > 2 ? args[2] : "F32");
        int chunk = 512;
        int bs = 16;
        try (GgufFile file = GgufFile.open(RandomModelWriter.cached(ModelShape.SMOLLM2_135M, type, 1))) {
            LlamaModel model = LlamaModel.load(file);
            int blocks = length / bs + 1;
            KvStore kv = model.newKvStore(blocks, bs, precision);
            int[][] tables = {new int[blocks]};
            for (int b = 0; b < blocks; b++) {
                tables[0][b] = b;
            }
            double[] ms = new double[5];
            for (int run = -2; run < ms.length; run++) {
                long t0 = System.nanoTime();
                for (int c0 = 0; c0 < length; c0 += chunk) {
                    int n = Math.min(chunk, length - c0);
                    int[] tokens = new int[n];
                    int[] positions = new int[n];
                    for (int i = 0; i < n; i++) {
                        tokens[i] = 5 + (c0 + i) % 1000;
                        positions[i] = c0 + i;
                    }
                    model.forward(new TokenBatch(tokens, positions, new int[n], tables, new int[] {n - 1}), kv);
                }
                if (run >= 0) {
                    ms[run] = (System.nanoTime() - t0) / 1e6;
                }
            }
            java.util.Arrays.sort(ms);
            System.out.printf(java.util.Locale.ROOT, "%s, KV %s: prefill of one %d-token prompt in %d-token chunks %.0f ms "
                    + "(%.0f tok/s)%n", type, precision, length, chunk, ms[2], length * 1e3 / ms[2]);
        }
    }
}
