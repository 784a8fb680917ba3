package io.inferstream.runtime.bench;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufArray;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.gguf.Quantizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Writes a Llama GGUF of a given {@link ModelShape} filled with seeded random weights: uniform with
 * standard deviation 0.02 (the usual initialisation scale, so activations and logits stay in a sane
 * range), norms at 1. Matrices are stored as {@code type}; norm vectors as F32, like llama.cpp does.
 */
public final class RandomModelWriter {

    private static final float STD = 0.02f;
    /** Phi-3's original context, the one its short LongRoPE factors serve. */
    public static final int PHI3_ORIGINAL_CONTEXT = 4096;

    private RandomModelWriter() {
    }

    /** Writes the model to {@code file}, without a vocabulary (benchmarks feed it token ids). */
    public static Path write(ModelShape s, GgmlType type, long seed, Path file) {
        return write(s, type, seed, file, null);
    }

    /**
     * Writes the model to {@code file} with the {@code tokenizer.*} keys of {@code vocabulary} (null: none), so that it
     * loads with a tokenizer as a real model does; that vocabulary must have the shape's rows.
     */
    public static Path write(ModelShape s, GgmlType type, long seed, Path file, GgufFile vocabulary) {
        SplittableRandom rnd = new SplittableRandom(seed);
        String a = s.architecture();
        GgufWriter w = new GgufWriter();
        if (vocabulary != null) {
            Object tokens = vocabulary.get("tokenizer.ggml.tokens");
            int rows = tokens instanceof GgufArray t ? t.size() : 0;
            if (rows != s.vocabSize()) {
                throw new IllegalArgumentException(vocabulary.path() + " has a vocabulary of " + rows + " tokens; the shape "
                        + s.name() + " has " + s.vocabSize() + " rows");
            }
            for (String key : vocabulary.keys()) {
                if (key.startsWith("tokenizer.")) {
                    w.put(key, vocabulary.typeOf(key), vocabulary.get(key));
                }
            }
        }
        w.putString("general.architecture", a)
                .putString("general.name", "random-" + s.name())
                .putUInt32(a + ".embedding_length", s.dim())
                .putUInt32(a + ".feed_forward_length", s.hiddenDim())
                .putUInt32(a + ".block_count", s.nLayers())
                .putUInt32(a + ".attention.head_count", s.nHeads())
                .putUInt32(a + ".attention.head_count_kv", s.nKvHeads())
                .putUInt32(a + ".context_length", s.contextLength())
                .putUInt32(a + ".attention.key_length", s.headDim())
                .putUInt32(a + ".attention.value_length", s.headDim())
                .putUInt32(a + ".rope.dimension_count", s.headDim())
                .putFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-5f)
                .putFloat32(a + ".rope.freq_base", s.ropeTheta());
        if (s.slidingWindow() > 0) {
            w.putUInt32(a + ".attention.sliding_window", s.slidingWindow());
        }
        if (s.experts() > 0) {
            w.putUInt32(a + ".expert_count", s.experts()).putUInt32(a + ".expert_used_count", s.expertsUsed());
        }
        if (a.startsWith("granite")) { // granite-3.0-1b-a400m's multipliers, as convert_hf_to_gguf.py writes them
            w.putFloat32(a + ".embedding_scale", 12f).putFloat32(a + ".residual_scale", 0.22f)
                    .putFloat32(a + ".attention.scale", 0.015625f).putFloat32(a + ".logit_scale", 6f);
        }
        boolean gemma3 = a.equals("gemma3");
        boolean phi3 = a.equals("phi3");
        if (phi3) { // LongRoPE as convert_hf_to_gguf.py writes Phi-3.5-mini's: two lists of per-pair divisors
            double scale = (double) s.contextLength() / PHI3_ORIGINAL_CONTEXT;
            w.putUInt32(a + ".rope.scaling.original_context_length", PHI3_ORIGINAL_CONTEXT)
                    .putFloat32(a + ".rope.scaling.attn_factor",
                            scale <= 1 ? 1f : (float) Math.sqrt(1 + Math.log(scale) / Math.log(PHI3_ORIGINAL_CONTEXT)));
            w.addTensor("rope_factors_short.weight", ramp(s.headDim() / 2, 1.1), s.headDim() / 2);
            w.addTensor("rope_factors_long.weight", ramp(s.headDim() / 2, 40), s.headDim() / 2);
        }
        int qDim = s.nHeads() * s.headDim();
        int kvDim = s.nKvHeads() * s.headDim();
        matrix(w, "token_embd.weight", s.vocabSize(), s.dim(), type, rnd);
        for (int l = 0; l < s.nLayers(); l++) {
            String p = "blk." + l + ".";
            w.addTensor(p + "attn_norm.weight", ones(s.dim()), s.dim());
            if (phi3) { // Q, K and V rows in one tensor
                matrix(w, p + "attn_qkv.weight", qDim + 2 * kvDim, s.dim(), type, rnd);
            } else {
                matrix(w, p + "attn_q.weight", qDim, s.dim(), type, rnd);
                matrix(w, p + "attn_k.weight", kvDim, s.dim(), type, rnd);
                matrix(w, p + "attn_v.weight", kvDim, s.dim(), type, rnd);
            }
            matrix(w, p + "attn_output.weight", s.dim(), qDim, type, rnd);
            if (a.equals("qwen3") || gemma3) {
                w.addTensor(p + "attn_q_norm.weight", ones(s.headDim()), s.headDim());
                w.addTensor(p + "attn_k_norm.weight", ones(s.headDim()), s.headDim());
            }
            if (gemma3) {
                w.addTensor(p + "post_attention_norm.weight", ones(s.dim()), s.dim());
                w.addTensor(p + "post_ffw_norm.weight", ones(s.dim()), s.dim());
            }
            w.addTensor(p + "ffn_norm.weight", ones(s.dim()), s.dim());
            if (s.experts() > 0) { // the router in F32, as llama-quantize leaves it; the experts merged, ne = [cols, rows, experts]
                matrix(w, p + "ffn_gate_inp.weight", s.experts(), s.dim(), GgmlType.F32, rnd);
                experts(w, p + "ffn_gate_exps.weight", s.experts(), s.hiddenDim(), s.dim(), type, rnd);
                experts(w, p + "ffn_up_exps.weight", s.experts(), s.hiddenDim(), s.dim(), type, rnd);
                experts(w, p + "ffn_down_exps.weight", s.experts(), s.dim(), s.hiddenDim(), type, rnd);
                continue;
            }
            if (phi3) { // gate rows then up rows
                matrix(w, p + "ffn_up.weight", 2 * s.hiddenDim(), s.dim(), type, rnd);
            } else {
                matrix(w, p + "ffn_gate.weight", s.hiddenDim(), s.dim(), type, rnd);
                matrix(w, p + "ffn_up.weight", s.hiddenDim(), s.dim(), type, rnd);
            }
            matrix(w, p + "ffn_down.weight", s.dim(), s.hiddenDim(), type, rnd);
        }
        w.addTensor("output_norm.weight", ones(s.dim()), s.dim());
        if (!s.tiedOutput()) {
            matrix(w, "output.weight", s.vocabSize(), s.dim(), type, rnd);
        }
        w.write(file);
        return file;
    }

    /**
     * The model in a cache folder ({@code $java.io.tmpdir/inferstream-random-models}), written once per
     * (shape, type, seed) and reused afterwards.
     */
    public static Path cached(ModelShape s, GgmlType type, long seed) {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "inferstream-random-models");
        Path file = dir.resolve(s.name() + "-" + type.name().toLowerCase(Locale.ROOT) + "-seed" + seed + ".gguf");
        if (Files.isRegularFile(file)) {
            return file;
        }
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".part");
            write(s, type, seed, tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write random model " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code count} matrices of [rows, cols] in one tensor of GGUF shape {cols, rows, count}. */
    private static void experts(GgufWriter w, String name, int count, int rows, int cols, GgmlType type, SplittableRandom rnd) {
        w.addTensor(name, type, new long[] {cols, rows, count}, Quantizer.quantize(type, random(Math.multiplyExact(count, rows) * (long) cols, rnd)));
    }

    /** A [rows, cols] matrix (GGUF shape {cols, rows}) of random weights. */
    private static void matrix(GgufWriter w, String name, int rows, int cols, GgmlType type, SplittableRandom rnd) {
        w.addTensor(name, type, new long[] {cols, rows}, Quantizer.quantize(type, random((long) rows * cols, rnd)));
    }

    private static float[] random(long n, SplittableRandom rnd) {
        float[] x = new float[Math.toIntExact(n)];
        float half = STD * (float) Math.sqrt(3); // uniform in [-half, half] has std STD
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) ((rnd.nextDouble() * 2 - 1) * half);
        }
        return x;
    }

    /** {@code n} divisors rising from 1 to {@code last}, as LongRoPE's lists do (the fast pairs barely change). */
    private static float[] ramp(int n, double last) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double t = n == 1 ? 1 : i / (double) (n - 1);
            x[i] = (float) (1 + (last - 1) * t * t);
        }
        return x;
    }

    private static float[] ones(int n) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, 1f);
        return x;
    }
}
