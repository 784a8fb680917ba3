package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;

/**
 * A sequence's logits do not depend on what it is batched with, on how its prompt is chunked, or on
 * which physical KV blocks hold it: several sequences of different lengths, mixing prefill chunks and
 * decode tokens in one step, give bit-identical logits to each sequence run alone in one prefill.
 */
class LlamaModelBatchTest {

    private static final int[][] SEQUENCES = {
            {1, 17, 250, 3, 99, 99, 42, 7, 288},
            {1, 5, 6, 7, 8, 9},
            {1, 200, 201, 202, 13, 13, 13, 77, 150, 151, 152, 153, 154},
    };

    /** Per step: for each sequence, how many of its next tokens are scheduled (0 = not in this step). */
    private static final int[][] SCHEDULE = {
            {6, 4, 0},  // two prefills
            {1, 1, 8},  // decode, decode, prefill of a newcomer
            {2, 1, 5},  // chunked rest of a prompt, decode, the newcomer's last chunk
    };

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void logitsOfASequenceAreIdenticalAloneAndInAMixedBatch(KvStore.Precision precision) {
        logitsAreIdenticalAloneAndInAMixedBatch(RandomLlamaGguf.Spec.llama(GgmlType.F32), precision, 4);
    }

    /**
     * Three query heads per KV head (as SmolLM2) and 16-position blocks: attention takes the three-head kernels over
     * whole and partial position vectors, and a prefill chunk attends as runs of tokens.
     */
    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void logitsAreIdenticalAloneAndInAMixedBatchWithGroupsOfThreeHeads(KvStore.Precision precision) {
        // dim 192 = 6 heads of 32, 2 KV heads
        logitsAreIdenticalAloneAndInAMixedBatch(RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(192, 96, 6, 2),
                precision, 16);
    }

    /**
     * Gemma 3's sliding-window layers (6 positions, five of the six layers): over 4-position blocks a token's window
     * starts inside a block and the blocks before it are skipped; over 16-position blocks the window starts inside the
     * one block, where the score kernels' position vectors run. The same either way in a chunk, a decode step and a batch.
     */
    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void logitsAreIdenticalAloneAndInAMixedBatchWithSlidingWindowLayers(KvStore.Precision precision) {
        RandomLlamaGguf.Spec gemma3 = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma3").withHeadDim(32).withLayers(6)
                .withTied(true);
        logitsAreIdenticalAloneAndInAMixedBatch(gemma3, precision, 4);
        logitsAreIdenticalAloneAndInAMixedBatch(gemma3, precision, 16);
        // three query heads per KV head: the three-head score kernel
        logitsAreIdenticalAloneAndInAMixedBatch(gemma3.withShape(192, 96, 6, 2), precision, 16);
    }

    /**
     * A mixture of experts: each expert multiplies the step's tokens that chose it as one batch, a different batch in
     * each of the three runs; a token's weighted sum runs in the order of its choice. Qwen3-MoE (8 experts, 2 per token)
     * and Qwen2-MoE (4, with the shared expert), Q8_0 experts.
     */
    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void logitsAreIdenticalAloneAndInAMixedBatchWithAMixtureOfExperts(KvStore.Precision precision) {
        logitsAreIdenticalAloneAndInAMixedBatch(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("qwen3moe").withHeadDim(32)
                .withExperts(8, false), precision, 4);
        logitsAreIdenticalAloneAndInAMixedBatch(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2moe")
                .withExperts(4, false), precision, 16);
    }

    /**
     * A window that starts deep in a 16-position block (positions 14 .. 19 see 9 .. 19): a prompt's logits in one chunk
     * and token by token, with one and with three query heads per KV head.
     */
    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void aWindowStartingDeepInABlockGivesTheSameLogitsInAChunkAndTokenByToken(KvStore.Precision precision) {
        RandomLlamaGguf.Spec gemma3 = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma3").withHeadDim(32).withLayers(6)
                .withTied(true);
        int[] prompt = {1, 17, 250, 3, 99, 99, 42, 7, 288, 150, 64, 5, 2, 31, 200, 123, 9, 270, 11, 0};
        int n = prompt.length;
        int bs = 16;
        for (RandomLlamaGguf.Spec spec : new RandomLlamaGguf.Spec[] {gemma3, gemma3.withShape(192, 96, 6, 2)}) {
            Path path = dir.resolve("deep.gguf");
            RandomLlamaGguf.write(spec, path);
            try (GgufFile gguf = GgufFile.open(path)) {
                LlamaModel model = LlamaModel.load(gguf);
                int vocab = model.config().vocabSize();
                KvStore chunkKv = model.newKvStore(2, bs, precision);
                int[][] table = {{1, 0}};
                int[] pos = range(0, n);
                float[] chunk = model.forward(new TokenBatch(prompt, pos, new int[n], table, pos), chunkKv);
                KvStore kv = model.newKvStore(2, bs, precision);
                for (int t = 0; t < n; t++) {
                    float[] row = model.forward(new TokenBatch(new int[] {prompt[t]}, new int[] {t}, new int[1], table,
                            new int[] {0}), kv);
                    assertArrayEquals(Arrays.copyOfRange(chunk, t * vocab, (t + 1) * vocab), row,
                            spec.heads() + " heads, position " + t);
                }
            }
        }
    }

    /**
     * Past {@link AttentionSegments#SPAN} positions a token's attention comes from several segments, merged: the same
     * bits in prefill chunks of 500 and token by token, with three query heads per KV head, and with Gemma 3's
     * six-position windows, which straddle a segment's edge at its first positions.
     */
    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void aContextOfSeveralSegmentsGivesTheSameLogitsInChunksAndTokenByToken(KvStore.Precision precision) {
        RandomLlamaGguf.Spec gemma3 = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma3").withHeadDim(32).withLayers(6)
                .withTied(true);
        int n = 2 * AttentionSegments.SPAN + 40;
        int[] prompt = new int[n];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        for (int i = 0; i < n; i++) {
            prompt[i] = rnd.nextInt(300);
        }
        int bs = 16;
        int[] table = new int[n / bs + 1];
        for (int b = 0; b < table.length; b++) {
            table[b] = table.length - 1 - b; // blocks out of position order
        }
        for (RandomLlamaGguf.Spec spec : new RandomLlamaGguf.Spec[] {
                RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(192, 96, 6, 2), gemma3}) {
            Path path = dir.resolve("long.gguf");
            RandomLlamaGguf.write(spec, path);
            try (GgufFile gguf = GgufFile.open(path)) {
                LlamaModel model = LlamaModel.load(gguf);
                int vocab = model.config().vocabSize();
                KvStore chunkKv = model.newKvStore(table.length, bs, precision);
                float[] chunked = new float[n * vocab];
                for (int from = 0; from < n; from += 500) {
                    int m = Math.min(500, n - from);
                    int[] pos = range(from, from + m);
                    float[] rows = model.forward(new TokenBatch(Arrays.copyOfRange(prompt, from, from + m), pos, new int[m],
                            new int[][] {table}, range(0, m)), chunkKv);
                    System.arraycopy(rows, 0, chunked, from * vocab, m * vocab);
                }
                KvStore kv = model.newKvStore(table.length, bs, precision);
                for (int t = 0; t < n; t++) {
                    float[] row = model.forward(new TokenBatch(new int[] {prompt[t]}, new int[] {t}, new int[1],
                            new int[][] {table}, new int[] {0}), kv);
                    assertArrayEquals(Arrays.copyOfRange(chunked, t * vocab, (t + 1) * vocab), row,
                            spec.arch() + ", " + spec.heads() + " heads, position " + t);
                }
            }
        }
    }

    private void logitsAreIdenticalAloneAndInAMixedBatch(RandomLlamaGguf.Spec spec, KvStore.Precision precision, int bs) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path)) {
            LlamaModel model = LlamaModel.load(gguf);
            int vocab = model.config().vocabSize();
            // Alone: each sequence in one prefill with contiguous blocks, logits at every position.
            float[][][] alone = new float[SEQUENCES.length][][];
            for (int s = 0; s < SEQUENCES.length; s++) {
                int n = SEQUENCES[s].length;
                KvStore kv = model.newKvStore((n + bs - 1) / bs, bs, precision);
                int[] pos = range(0, n);
                float[] flat = model.forward(new TokenBatch(SEQUENCES[s], pos, new int[n],
                        new int[][] {range(0, kv.numBlocks())}, pos), kv);
                alone[s] = new float[n][];
                for (int t = 0; t < n; t++) {
                    alone[s][t] = Arrays.copyOfRange(flat, t * vocab, (t + 1) * vocab);
                }
            }
            // Alone, one token per step: bitwise the prefill's logits. Matrix.matmul takes other kernels for one token
            // than for several, and attention another path for a decode token than for a chunk, all with the same
            // arithmetic per element; speculative decoding's exactness rests on it (a guessed token's logits in a
            // decode chunk are those a step of its own would give).
            for (int s = 0; s < SEQUENCES.length; s++) {
                int n = SEQUENCES[s].length;
                KvStore kv = model.newKvStore((n + bs - 1) / bs, bs, precision);
                int[][] table = {range(0, kv.numBlocks())};
                for (int t = 0; t < n; t++) {
                    float[] row = model.forward(new TokenBatch(new int[] {SEQUENCES[s][t]}, new int[] {t}, new int[1], table,
                            new int[] {0}), kv);
                    assertArrayEquals(alone[s][t], row, "sequence " + s + " position " + t + " decoded token by token");
                }
            }
            // Batched: blocks interleaved across sequences and out of order.
            KvStore kv = model.newKvStore(16, bs, precision);
            int[][] tables = {{7, 2, 12}, {0, 9}, {15, 4, 11, 1}};
            int[] done = new int[SEQUENCES.length];
            for (int[] step : SCHEDULE) {
                List<int[]> tokens = new ArrayList<>(); // {token, position, seq}
                List<Integer> logitRows = new ArrayList<>();
                List<int[]> expectedAt = new ArrayList<>(); // {seq, position}
                for (int s = 0; s < SEQUENCES.length; s++) {
                    for (int i = 0; i < step[s]; i++) {
                        int p = done[s] + i;
                        tokens.add(new int[] {SEQUENCES[s][p], p, s});
                        // ask for logits of every scheduled token, not only the last
                        logitRows.add(tokens.size() - 1);
                        expectedAt.add(new int[] {s, p});
                    }
                    done[s] += step[s];
                }
                int n = tokens.size();
                TokenBatch batch = new TokenBatch(tokens.stream().mapToInt(t -> t[0]).toArray(),
                        tokens.stream().mapToInt(t -> t[1]).toArray(), tokens.stream().mapToInt(t -> t[2]).toArray(),
                        tables, logitRows.stream().mapToInt(Integer::intValue).toArray());
                float[] flat = model.forward(batch, kv);
                for (int r = 0; r < n; r++) {
                    int[] at = expectedAt.get(r);
                    assertArrayEquals(alone[at[0]][at[1]], Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab),
                            "sequence " + at[0] + " position " + at[1]);
                }
            }
        }
    }

    @Test
    void aPositionWithoutABlockIsRejected() {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32), path);
        try (GgufFile gguf = GgufFile.open(path)) {
            LlamaModel model = LlamaModel.load(gguf);
            KvStore kv = model.newKvStore(2, 4, KvStore.Precision.F32);
            TokenBatch batch = new TokenBatch(new int[] {1}, new int[] {4}, new int[1], new int[][] {{0}}, new int[] {0});
            assertThrows(IllegalArgumentException.class, () -> model.forward(batch, kv));
        }
    }

    private static int[] range(int from, int to) {
        int[] a = new int[to - from];
        for (int i = 0; i < a.length; i++) {
            a[i] = from + i;
        }
        return a;
    }
}
