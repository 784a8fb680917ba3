package io.inferstream.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufWriter;

/**
 * Writes a llama GGUF of a given shape with random BF16 weights (uniform, scaled by 1/sqrt(fan-in) so
 * activations stay finite), for benchmarks of real model sizes without the real weights. Tied embeddings,
 * Llama-3 RoPE (theta 500000, llama3 scaling) like Llama-3.2.
 */
public final class RandomLlamaWriter {

    private RandomLlamaWriter() {
    }

    /** Llama-3.2-1B: dim 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192, vocab 128256. */
    public static void writeLlama32_1B(Path path) {
        write(path, 2048, 8192, 16, 32, 8, 128256);
    }

    public static void write(Path path, int dim, int hidden, int layers, int heads, int kvHeads, int vocab) {
        String a = "llama";
        int headDim = dim / heads;
        int kvDim = kvHeads * headDim;
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putString("general.name", "random-llama-" + dim + "x" + layers)
                .putUInt32(a + ".embedding_length", dim)
                .putUInt32(a + ".feed_forward_length", hidden)
                .putUInt32(a + ".block_count", layers)
                .putUInt32(a + ".attention.head_count", heads)
                .putUInt32(a + ".attention.head_count_kv", kvHeads)
                .putFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-5f)
                .putFloat32(a + ".rope.freq_base", 500000f)
                .putUInt32(a + ".rope.dimension_count", headDim)
                .putUInt32(a + ".context_length", 131072)
                .putString(a + ".rope.scaling.type", "llama3")
                .putFloat32(a + ".rope.scaling.factor", 32f)
                .putFloat32(a + ".rope.scaling.low_freq_factor", 1f)
                .putFloat32(a + ".rope.scaling.high_freq_factor", 4f)
                .putUInt32(a + ".rope.scaling.original_context_length", 8192);
        record Spec(String name, int rows, int cols) {
        }
        List<Spec> specs = new ArrayList<>();
        specs.add(new Spec("token_embd.weight", vocab, dim));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            specs.add(new Spec(p + "attn_q.weight", dim, dim));
            specs.add(new Spec(p + "attn_k.weight", kvDim, dim));
            specs.add(new Spec(p + "attn_v.weight", kvDim, dim));
            specs.add(new Spec(p + "attn_output.weight", dim, dim));
            specs.add(new Spec(p + "ffn_gate.weight", hidden, dim));
            specs.add(new Spec(p + "ffn_up.weight", hidden, dim));
            specs.add(new Spec(p + "ffn_down.weight", dim, hidden));
        }
        byte[][] data = new byte[specs.size()][];
        IntStream.range(0, specs.size()).parallel().forEach(i -> {
            Spec s = specs.get(i);
            data[i] = randomBf16(s.rows(), s.cols(), 0x9E3779B97F4A7C15L * (i + 1));
        });
        for (int i = 0; i < specs.size(); i++) {
            Spec s = specs.get(i);
            w.addTensor(s.name(), GgmlType.BF16, new long[] {s.cols(), s.rows()}, data[i]);
        }
        float[] ones = new float[dim];
        java.util.Arrays.fill(ones, 1f);
        for (int l = 0; l < layers; l++) {
            w.addTensor("blk." + l + ".attn_norm.weight", ones, dim);
            w.addTensor("blk." + l + ".ffn_norm.weight", ones, dim);
        }
        w.addTensor("output_norm.weight", ones, dim);
        w.write(path);
    }

    /** rows x cols bf16 uniform in [-sqrt(3/cols), sqrt(3/cols)] (unit variance of a row dot a unit vector). */
    private static byte[] randomBf16(int rows, int cols, long seed) {
        long n = (long) rows * cols;
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(2 * n)).order(ByteOrder.LITTLE_ENDIAN);
        float scale = (float) Math.sqrt(3.0 / cols);
        long s = seed | 1;
        for (long i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            float u = ((s >>> 40) * 0x1.0p-24f) * 2f - 1f;
            b.putShort(Float16.floatToBf16(u * scale));
        }
        return b.array();
    }
}
