package io.inferstream.runtime.model;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufWriter;
import io.inferstream.runtime.gguf.Quantizer;

/**
 * Writes a tiny Llama-family GGUF with random weights, as llama.cpp's converter would lay it out,
 * and keeps the float weights it drew (before quantization) for reference computations.
 */
final class RandomLlamaGguf {

    /**
     * @param matrixType     storage of every 2-D weight (norms and biases stay F32, as llama.cpp keeps them)
     * @param tied           no output.weight: the classifier is the token embedding
     * @param ropeFreqsTensor write the llama3 scaling as per-pair frequency divisors ({@code rope_freqs.weight})
     * @param hfPermutedQk   draw Q/K as a Hugging Face checkpoint (rotate-half RoPE) and store them row-permuted
     *                       exactly as convert_hf_to_gguf.py does for llama
     * @param ropeDim        dimensions of a head that RoPE turns, 0 for all
     * @param experts        a mixture of this many experts in every layer ({@link #EXPERTS_USED} per token), 0 for dense
     * @param splitExperts   each expert's matrices as tensors of their own ({@code blk.N.ffn_gate.E.weight}: GGUFs
     *                       converted before llama.cpp merged them), not merged into {@code ffn_gate_exps} and the like
     */
    record Spec(String arch, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int context,
                float eps, float theta, GgmlType matrixType, boolean tied, ModelConfig.RopeScaling llama3,
                boolean hfPermutedQk, long seed, boolean ropeFreqsTensor, int headDim, int ropeDim, int experts,
                boolean splitExperts) {

        Spec(String arch, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int context,
             float eps, float theta, GgmlType matrixType, boolean tied, ModelConfig.RopeScaling llama3,
             boolean hfPermutedQk, long seed) {
            this(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, false,
                    dim / heads, 0, 0, false);
        }

        /** Llama 3 scaling stored as llama.cpp's converter stores it: a rope_freqs.weight tensor, no scaling keys. */
        Spec withRopeFreqsTensor() {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, true, headDim, ropeDim, experts, splitExperts);
        }

        static Spec llama(GgmlType type) {
            return new Spec("llama", 64, 96, 2, 4, 2, 300, 256, 1e-5f, 10000f, type, false, null, false, 11);
        }

        Spec withArch(String a) {
            return new Spec(a, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        Spec withShape(int d, int h, int nHeads, int nKv) {
            return new Spec(arch, d, h, layers, nHeads, nKv, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor,
                    d / nHeads, ropeDim, experts, splitExperts);
        }

        Spec withTied(boolean t) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, t, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        Spec withLlama3(ModelConfig.RopeScaling s, float ropeTheta) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, ropeTheta, matrixType, tied, s, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        Spec withHfPermutedQk() {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, true, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        /** Heads of {@code hd} dimensions whatever the width (Qwen3: 16 heads of 128 over a width of 1024). */
        Spec withHeadDim(int hd) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, hd, ropeDim, experts, splitExperts);
        }

        Spec withVocab(int v) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, v, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        /** RoPE over the first {@code d} dimensions of each head only (Phi-4-mini: 96 of 128). */
        Spec withRopeDim(int d) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, d, experts, splitExperts);
        }

        /** Dimensions RoPE turns. */
        int rotated() {
            return ropeDim == 0 ? headDim : ropeDim;
        }

        /** {@code n} transformer blocks (Gemma 3 slides five of every six: six layers hold a global one). */
        Spec withLayers(int n) {
            return new Spec(arch, dim, hidden, n, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        Spec withTheta(float t) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, t, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }

        /** A mixture of {@code n} experts in every layer; {@code split}: each expert's matrices in tensors of their own. */
        Spec withExperts(int n, boolean split) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, eps, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, n, split);
        }

        Spec withEps(float e) {
            return new Spec(arch, dim, hidden, layers, heads, kvHeads, vocab, context, e, theta, matrixType, tied, llama3, hfPermutedQk, seed, ropeFreqsTensor, headDim, ropeDim, experts, splitExperts);
        }
    }

    /** LongRoPE's magnitude factor written for phi3 ({@code sqrt(1 + ln(scale) / ln(original context))} for scale 32, 4096). */
    static final float PHI3_ATTN_FACTOR = 1.190238f;

    /** Positions a sliding-window layer of the phi3 / gemma2 / gemma3 models written here sees: fewer than a test's tokens. */
    static final int SLIDING_WINDOW = 6;
    /** Gemma 2's soft caps as written here: small enough to bind on these random weights. */
    static final float GEMMA2_ATTN_CAP = 2f;
    static final float GEMMA2_FINAL_CAP = 10f;
    /** Gemma 3's linear RoPE factor for its global layers, as written here (Gemma 3 4B and up: 8). */
    static final float GEMMA3_LINEAR = 4f;

    /** Experts each token runs through in the mixtures written here. */
    static final int EXPERTS_USED = 2;
    /** Width of Qwen2-MoE's shared expert as written here. */
    static final int SHARED_HIDDEN = 64;
    /** Granite's scales as written here (Granite 3.0 1B-A400M: 12, 0.22, 1/64, 6). */
    static final float GRANITE_EMBEDDING_SCALE = 4f;
    static final float GRANITE_RESIDUAL_SCALE = 0.5f;
    static final float GRANITE_ATTENTION_SCALE = 0.1f;
    static final float GRANITE_LOGIT_SCALE = 3f;

    /** The drawn weights, by GGUF tensor name, in Hugging Face row order (before any Q/K permutation). */
    final Map<String, float[]> weights = new LinkedHashMap<>();
    final Spec spec;

    private GgmlType downExperts; // the experts' down matrices' type where it is not the spec's, or null

    private RandomLlamaGguf(Spec spec) {
        this.spec = spec;
    }

    /**
     * A mixture of {@code spec} whose experts' down matrices are {@code downType} (llama-quantize's Q4_K_M writes
     * {@code ffn_down_exps} in Q6_K beside Q4_K gate and up).
     */
    static RandomLlamaGguf writeWithDownExperts(Spec spec, Path path, GgmlType downType) {
        RandomLlamaGguf m = new RandomLlamaGguf(spec);
        m.downExperts = downType;
        m.writeTo(path, w -> { });
        return m;
    }

    static RandomLlamaGguf write(Spec spec, Path path) {
        return write(spec, path, w -> { });
    }

    /**
     * The model of {@code spec} with metadata that {@code overrides} puts over the keys written for it (the same
     * weights; the {@link ReferenceTransformer} does not know of the change).
     */
    static RandomLlamaGguf write(Spec spec, Path path, java.util.function.Consumer<GgufWriter> overrides) {
        RandomLlamaGguf m = new RandomLlamaGguf(spec);
        m.writeTo(path, overrides);
        return m;
    }

    private void writeTo(Path path, java.util.function.Consumer<GgufWriter> overrides) {
        SplittableRandom rnd = new SplittableRandom(spec.seed());
        String a = spec.arch();
        int hd = spec.headDim();
        int qDim = spec.heads() * hd;
        int kvDim = spec.kvHeads() * hd;
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putUInt32(a + ".embedding_length", spec.dim())
                // a Qwen MoE's feed_forward_length is a dense model's width, not an expert's
                .putUInt32(a + ".feed_forward_length", qwenMoe() ? 3 * spec.hidden() : spec.hidden())
                .putUInt32(a + ".block_count", spec.layers())
                .putUInt32(a + ".attention.head_count", spec.heads())
                .putUInt32(a + ".attention.head_count_kv", spec.kvHeads())
                .putFloat32(a + ".attention.layer_norm_rms_epsilon", spec.eps())
                .putFloat32(a + ".rope.freq_base", spec.theta())
                .putUInt32(a + ".attention.key_length", hd)
                .putUInt32(a + ".attention.value_length", hd)
                .putUInt32(a + ".rope.dimension_count", spec.rotated())
                .putUInt32(a + ".context_length", spec.context());
        if (a.equals("phi3")) {
            // convert_hf_to_gguf.py (Phi3MiniModel): LongRoPE as two tensors of per-pair divisors and the magnitude factor;
            // the long factors must never be used below the original context
            w.putUInt32(a + ".attention.sliding_window", SLIDING_WINDOW) // every layer's, as Phi-3-mini-4k's 2047 of 4096
                    .putUInt32(a + ".rope.scaling.original_context_length", spec.context() / 2)
                    .putFloat32(a + ".rope.scaling.attn_factor", PHI3_ATTN_FACTOR);
            vector(w, rnd, "rope_factors_short.weight", spec.rotated() / 2, 2.0, 0.5);
            vector(w, rnd, "rope_factors_long.weight", spec.rotated() / 2, 40.0, 5.0);
        }
        if (spec.experts() > 0) { // convert_hf_to_gguf.py MixtralModel (as llama), Qwen2MoeModel, Qwen3MoeModel, GraniteMoeModel
            w.putUInt32(a + ".expert_count", spec.experts()).putUInt32(a + ".expert_used_count", EXPERTS_USED);
            if (qwenMoe()) {
                w.putUInt32(a + ".expert_feed_forward_length", spec.hidden());
            }
            if (a.equals("qwen2moe")) {
                w.putUInt32(a + ".expert_shared_feed_forward_length", SHARED_HIDDEN);
            }
        }
        if (a.startsWith("granite")) { // GraniteModel: the multipliers as *_scale keys
            w.putFloat32(a + ".embedding_scale", GRANITE_EMBEDDING_SCALE)
                    .putFloat32(a + ".residual_scale", GRANITE_RESIDUAL_SCALE)
                    .putFloat32(a + ".attention.scale", GRANITE_ATTENTION_SCALE)
                    .putFloat32(a + ".logit_scale", GRANITE_LOGIT_SCALE);
        }
        if (a.equals("gemma2")) { // convert_hf_to_gguf.py Gemma2Model
            w.putUInt32(a + ".attention.sliding_window", SLIDING_WINDOW)
                    .putFloat32(a + ".attn_logit_softcapping", GEMMA2_ATTN_CAP)
                    .putFloat32(a + ".final_logit_softcapping", GEMMA2_FINAL_CAP);
        }
        if (a.equals("gemma3")) { // Gemma3Model: the window, and the global layers' linear RoPE scaling
            w.putUInt32(a + ".attention.sliding_window", SLIDING_WINDOW)
                    .putString(a + ".rope.scaling.type", "linear")
                    .putFloat32(a + ".rope.scaling.factor", GEMMA3_LINEAR);
        }
        if (spec.llama3() != null && spec.ropeFreqsTensor()) {
            // convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors): one divisor per rotated pair
            float[] factors = new float[hd / 2];
            for (int i = 0; i < hd / 2; i++) {
                double freq = Math.pow(spec.theta(), -2.0 * i / hd);
                factors[i] = (float) (freq / ReferenceTransformer.llama3(freq, spec.llama3()));
            }
            w.addTensor("rope_freqs.weight", factors, hd / 2);
        } else if (spec.llama3() != null) {
            w.putString(a + ".rope.scaling.type", "llama3")
                    .putFloat32(a + ".rope.scaling.factor", spec.llama3().factor())
                    .putFloat32(a + ".rope.scaling.low_freq_factor", spec.llama3().lowFreqFactor())
                    .putFloat32(a + ".rope.scaling.high_freq_factor", spec.llama3().highFreqFactor())
                    .putUInt32(a + ".rope.scaling.original_context_length", spec.llama3().originalContextLength());
        }
        matrix(w, rnd, "token_embd.weight", spec.vocab(), spec.dim(), 1.0);
        for (int l = 0; l < spec.layers(); l++) {
            String p = "blk." + l + ".";
            norm(w, rnd, p + "attn_norm.weight", spec.dim());
            double s = 1 / Math.sqrt(spec.dim());
            matrix(w, rnd, p + "attn_q.weight", qDim, spec.dim(), s, spec.heads());
            matrix(w, rnd, p + "attn_k.weight", kvDim, spec.dim(), s, spec.kvHeads());
            matrix(w, rnd, p + "attn_v.weight", kvDim, spec.dim(), s);
            fuse(w, p + "attn_qkv.weight", spec.dim(), p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight");
            matrix(w, rnd, p + "attn_output.weight", spec.dim(), qDim, 1 / Math.sqrt(qDim));
            if (a.equals("qwen2") || a.equals("qwen2moe")) {
                vector(w, rnd, p + "attn_q.bias", qDim, 0.0, 0.5);
                vector(w, rnd, p + "attn_k.bias", kvDim, 0.0, 0.5);
                vector(w, rnd, p + "attn_v.bias", kvDim, 0.0, 0.5);
            }
            if (a.equals("qwen3") || a.equals("qwen3moe") || a.equals("gemma3")) { // QK-norm: one weight per head dimension, shared by the heads
                norm(w, rnd, p + "attn_q_norm.weight", hd);
                norm(w, rnd, p + "attn_k_norm.weight", hd);
            }
            if (a.equals("gemma2") || a.equals("gemma3")) { // stored, as every Gemma norm, as 1 + transformers' weight
                norm(w, rnd, p + "post_attention_norm.weight", spec.dim());
                norm(w, rnd, p + "post_ffw_norm.weight", spec.dim());
            }
            norm(w, rnd, p + "ffn_norm.weight", spec.dim());
            if (spec.experts() > 0) {
                writeExperts(w, rnd, p);
                continue;
            }
            matrix(w, rnd, p + "ffn_gate.weight", spec.hidden(), spec.dim(), s);
            matrix(w, rnd, p + "ffn_up.weight", spec.hidden(), spec.dim(), s);
            fuse(w, p + "ffn_up.weight", spec.dim(), p + "ffn_gate.weight", p + "ffn_up.weight");
            matrix(w, rnd, p + "ffn_down.weight", spec.dim(), spec.hidden(), 1 / Math.sqrt(spec.hidden()));
        }
        norm(w, rnd, "output_norm.weight", spec.dim());
        if (!spec.tied()) {
            matrix(w, rnd, "output.weight", spec.vocab(), spec.dim(), 1 / Math.sqrt(spec.dim()));
        }
        overrides.accept(w);
        w.write(path);
    }

    private boolean qwenMoe() {
        return spec.experts() > 0 && spec.arch().startsWith("qwen");
    }

    /**
     * One layer's mixture: the router [experts, dim] in F32 (llama-quantize keeps ffn_gate_inp so), its scores spread
     * wide enough that no two experts tie; each expert's gate, up [hidden, dim] and down [dim, hidden], merged into
     * tensors of ne = [cols, rows, experts] or, split, one tensor per expert; Qwen2-MoE's shared expert and its gate.
     * {@link #weights} holds the merged matrices (expert e's rows after expert e − 1's) whatever the layout.
     */
    private void writeExperts(GgufWriter w, SplittableRandom rnd, String p) {
        int e = spec.experts();
        int dim = spec.dim();
        int hidden = spec.hidden();
        double s = 1 / Math.sqrt(dim);
        float[] router = draw(rnd, e * dim, 3 * s);
        weights.put(p + "ffn_gate_inp.weight", router);
        w.addTensor(p + "ffn_gate_inp.weight", GgmlType.F32, new long[] {dim, e}, Quantizer.quantize(GgmlType.F32, router));
        String[] kinds = {"ffn_gate", "ffn_up", "ffn_down"};
        for (String kind : kinds) {
            boolean down = kind.equals("ffn_down");
            int rows = down ? dim : hidden;
            int cols = down ? hidden : dim;
            float[] m = draw(rnd, e * rows * cols, down ? 1 / Math.sqrt(hidden) : s);
            weights.put(p + kind + "_exps.weight", m);
            GgmlType type = down && downExperts != null ? downExperts : spec.matrixType();
            if (!spec.splitExperts()) {
                w.addTensor(p + kind + "_exps.weight", type, new long[] {cols, rows, e}, Quantizer.quantize(type, m));
                continue;
            }
            for (int x = 0; x < e; x++) {
                float[] one = java.util.Arrays.copyOfRange(m, x * rows * cols, (x + 1) * rows * cols);
                w.addTensor(p + kind + "." + x + ".weight", type, new long[] {cols, rows}, Quantizer.quantize(type, one));
            }
        }
        if (spec.arch().equals("qwen2moe")) {
            vector(w, rnd, p + "ffn_gate_inp_shexp.weight", dim, 0.0, 3 * s);
            matrix(w, rnd, p + "ffn_gate_shexp.weight", SHARED_HIDDEN, dim, s);
            matrix(w, rnd, p + "ffn_up_shexp.weight", SHARED_HIDDEN, dim, s);
            matrix(w, rnd, p + "ffn_down_shexp.weight", dim, SHARED_HIDDEN, 1 / Math.sqrt(SHARED_HIDDEN));
        }
    }

    private static float[] draw(SplittableRandom rnd, int n, double std) {
        float[] m = new float[n];
        for (int i = 0; i < n; i++) {
            m[i] = (float) (std * gaussian(rnd));
        }
        return m;
    }

    /**
     * phi3 (convert_hf_to_gguf.py keeps transformers' fused qkv_proj and gate_up_proj): the parts' rows one after the
     * other as tensor {@code name}, in place of the parts, which stay in {@link #weights} for the reference.
     */
    private void fuse(GgufWriter w, String name, int cols, String... parts) {
        if (!spec.arch().equals("phi3")) {
            return;
        }
        int length = 0;
        for (String part : parts) {
            length += weights.get(part).length;
        }
        float[] fused = new float[length];
        int at = 0;
        for (String part : parts) {
            float[] m = weights.get(part);
            System.arraycopy(m, 0, fused, at, m.length);
            at += m.length;
        }
        w.addTensor(name, spec.matrixType(), new long[] {cols, length / cols}, Quantizer.quantize(spec.matrixType(), fused));
    }

    private void norm(GgufWriter w, SplittableRandom rnd, String name, int n) {
        vector(w, rnd, name, n, 1.0, 0.2);
    }

    private void vector(GgufWriter w, SplittableRandom rnd, String name, int n, double mean, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (mean + std * gaussian(rnd));
        }
        weights.put(name, v);
        w.addTensor(name, v, n);
    }

    private void matrix(GgufWriter w, SplittableRandom rnd, String name, int rows, int cols, double std) {
        matrix(w, rnd, name, rows, cols, std, 0);
    }

    /** @param permuteHeads when the spec asks for it, the number of heads whose rows the converter permutes (0 = none) */
    private void matrix(GgufWriter w, SplittableRandom rnd, String name, int rows, int cols, double std, int permuteHeads) {
        float[] m = new float[rows * cols];
        for (int i = 0; i < m.length; i++) {
            m[i] = (float) (std * gaussian(rnd));
        }
        weights.put(name, m);
        if (spec.arch().equals("phi3") && name.matches(".*\\.(attn_[qkv]|ffn_gate|ffn_up)\\.weight")) {
            return; // stored fused, by fuse()
        }
        float[] stored = spec.hfPermutedQk() && permuteHeads > 0 ? permute(m, rows, cols, permuteHeads) : m;
        w.addTensor(name, spec.matrixType(), new long[] {cols, rows}, Quantizer.quantize(spec.matrixType(), stored));
    }

    /**
     * convert_hf_to_gguf.py {@code LlamaModel.permute}: per head, reshape rows (2, headDim/2) and swap the axes,
     * so row {@code c * headDim/2 + i} of a head moves to row {@code 2i + c}: rotate-half pairs become adjacent pairs.
     */
    static float[] permute(float[] m, int rows, int cols, int heads) {
        int hd = rows / heads;
        float[] out = new float[m.length];
        for (int h = 0; h < heads; h++) {
            for (int c = 0; c < 2; c++) {
                for (int i = 0; i < hd / 2; i++) {
                    int from = h * hd + c * (hd / 2) + i;
                    int to = h * hd + 2 * i + c;
                    System.arraycopy(m, from * cols, out, to * cols, cols);
                }
            }
        }
        return out;
    }

    private static double gaussian(SplittableRandom rnd) {
        // Box–Muller: SplittableRandom has no nextGaussian on Java 17
        double u = 1 - rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
