package io.inferstream.runtime.model;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;

/**
 * Not a test: times whole {@link LlamaModel#forward} steps of a random-weights SmolLM2-135M-shaped model (the
 * bench's cached file): a decode step of 32 sequences (or as many as the fourth argument says, at least 4) at
 * {@code context} positions each, and a prefill step of four 128-token prompts (512 tokens). Wall time, medians of
 * 10 after 5 warm-up steps, and the decode step's mean time in attention. Args: [type] [context] [F32|F16 KV]
 * [sequences] [shape, e.g. llama-3.2-1b]. The decode-step numbers in docs/benchmarks.md ("Second session") come from this.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:&lt;deps&gt; \
 *     io.inferstream.runtime.model.ForwardStepBenchmark Q8_0 160 F32</pre>
 */
public final class ForwardStepBenchmark {

    public static void main(String[] args) {
        GgmlType type = GgmlType.valueOf(args.length > 0 ? args[0] : "Q8_0");
        int context = args.length > 1 ? Integer.parseInt(args[1]) : 160;
        KvStore.Precision precision = KvStore.Precision.valueOf(args.length > 2 ? args[2] : "F32");
        ModelShape shape = ModelShape.byName(args.length > 4 ? args[4] : "smollm2-135m");
        try (GgufFile file = GgufFile.open(RandomModelWriter.cached(shape, type, 1))) {
            LlamaModel model = LlamaModel.load(file);
            int seqs = args.length > 3 ? Integer.parseInt(args[3]) : 32;
            if (seqs < 4) {
                throw new IllegalArgumentException("the prefill step uses sequences 0-3: give at least 4, got " + seqs);
            }
            int bs = 16;
            int blocksPer = Math.max(128 / bs, context / bs + 1);
            KvStore kv = model.newKvStore(seqs * blocksPer, bs, precision);
            int[][] tables = new int[seqs][blocksPer];
            for (int s = 0; s < seqs; s++) {
                for (int b = 0; b < blocksPer; b++) {
                    tables[s][b] = s * blocksPer + b;
                }
            }
            int[] tokens = new int[seqs];
            int[] positions = new int[seqs];
            int[] seq = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                tokens[s] = 100 + s;
                positions[s] = context;
                seq[s] = s;
            }
            TokenBatch decode = new TokenBatch(tokens, positions, seq, tables, seq.clone());
            int n = 512;
            int[] pt = new int[n];
            int[] pp = new int[n];
            int[] ps = new int[n];
            for (int i = 0; i < n; i++) {
                pt[i] = 7 + i;
                pp[i] = i % 128;
                ps[i] = i / 128;
            }
            TokenBatch prefill = new TokenBatch(pt, pp, ps, tables, new int[] {127, 255, 383, 511});
            double[] decodeMs = new double[10];
            double[] prefillMs = new double[10];
            double attentionMs = 0;
            for (int it = -5; it < 10; it++) {
                long a0 = model.attentionNanos();
                long t0 = System.nanoTime();
                model.forward(decode, kv);
                long t1 = System.nanoTime();
                if (it >= 0) {
                    attentionMs += (model.attentionNanos() - a0) / 1e6 / 10;
                }
                model.forward(prefill, kv);
                long t2 = System.nanoTime();
                if (it >= 0) {
                    decodeMs[it] = (t1 - t0) / 1e6;
                    prefillMs[it] = (t2 - t1) / 1e6;
                }
            }
            java.util.Arrays.sort(decodeMs);
            java.util.Arrays.sort(prefillMs);
            System.out.printf(java.util.Locale.ROOT, "%s, KV %s: decode step of %d sequences at %d positions %.1f ms "
                            + "(%.0f tok/s; attention %.1f ms, mean); prefill step of 512 tokens %.1f ms (%.0f tok/s)%n",
                    type, precision, seqs, context, decodeMs[5], seqs * 1e3 / decodeMs[5], attentionMs, prefillMs[5],
                    512e3 / prefillMs[5]);
        }
    }
}
