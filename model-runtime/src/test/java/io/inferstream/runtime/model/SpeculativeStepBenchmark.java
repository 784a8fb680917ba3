package io.inferstream.runtime.model;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;

import java.util.Arrays;
import java.util.Locale;

/**
 * Not a test: what a speculative decode step costs against a plain one. Times one sequence's forward step at
 * {@code context} positions with 1 + g tokens (its next token and g guesses, logits for each) for g = 0, 1, 2, 4, 8, on
 * the bench's cached random model of a shape; medians of 15 after 5 warm-up rounds, the step sizes interleaved in
 * each round so that load changes hit them alike. A step with g guesses pays off when it yields more than its cost
 * ratio in tokens: 1 + the guesses kept. Args: [shape] [type] [context].
 *
 * <pre>java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:&lt;deps&gt; \
 *     io.inferstream.runtime.model.SpeculativeStepBenchmark smollm2-135m Q8_0 256</pre>
 */
public final class SpeculativeStepBenchmark {

    public static void main(String[] args) {
        ModelShape shape = ModelShape.byName(args.length > 0 ? args[0] : "smollm2-135m");
        GgmlType type = GgmlType.valueOf(args.length > 1 ? args[1] : "Q8_0");
        int context = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int[] guesses = {0, 1, 2, 4, 8};
        int rounds = 15;
        try (GgufFile file = GgufFile.open(RandomModelWriter.cached(shape, type, 1))) {
            LlamaModel model = LlamaModel.load(file);
            int bs = 16;
            int blocks = (context + 9 + bs - 1) / bs;
            KvStore kv = model.newKvStore(blocks, bs, KvStore.Precision.F32);
            int[][] table = {new int[blocks]};
            Arrays.setAll(table[0], b -> b);
            int[] prompt = new int[context];
            Arrays.setAll(prompt, i -> 3 + (i * 7919) % (model.config().vocabSize() - 3));
            int[] all = new int[context];
            Arrays.setAll(all, i -> i);
            model.forward(new TokenBatch(prompt, all, new int[context], table, new int[] {context - 1}), kv);
            double[][] ms = new double[guesses.length][rounds];
            for (int round = -5; round < rounds; round++) {
                for (int g = 0; g < guesses.length; g++) {
                    int n = 1 + guesses[g];
                    int[] tokens = new int[n];
                    int[] positions = new int[n];
                    int[] rows = new int[n];
                    for (int i = 0; i < n; i++) {
                        tokens[i] = 5 + i;
                        positions[i] = context + i;
                        rows[i] = i;
                    }
                    long t0 = System.nanoTime();
                    model.forward(new TokenBatch(tokens, positions, new int[n], table, rows), kv);
                    long t1 = System.nanoTime();
                    if (round >= 0) {
                        ms[g][round] = (t1 - t0) / 1e6;
                    }
                }
            }
            double plain = median(ms[0]);
            System.out.printf(Locale.ROOT, "%s %s, one sequence at %d positions: a step with g guesses, median of %d%n",
                    shape.name(), type, context, rounds);
            System.out.printf(Locale.ROOT, "| guesses g | tokens | ms per step | cost vs plain step |%n");
            for (int g = 0; g < guesses.length; g++) {
                double m = median(ms[g]);
                System.out.printf(Locale.ROOT, "| %d | %d | %.2f | %.2f |%n", guesses[g], 1 + guesses[g], m, m / plain);
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
