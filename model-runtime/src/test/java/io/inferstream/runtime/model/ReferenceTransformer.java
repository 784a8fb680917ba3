package io.inferstream.runtime.model;

import java.util.function.Function;

/**
 * A Llama-family forward pass written straight from the maths in float64, with no cache and no
 * batching: every call recomputes the whole sequence. The yardstick for {@link LlamaModel}.
 *
 * <p>Weights come in as flat row-major [rows, cols] arrays by GGUF tensor name. RoPE is applied to
 * pairs {@code (2i, 2i+1)} ("normal", the GGUF llama layout) or to {@code (i, i + headDim/2)} ("rotate
 * half": NeoX, qwen2, qwen3, and Hugging Face llama checkpoints before the converter's Q/K permutation). Qwen3
 * normalizes each query and key head (RMSNorm over the head, its own weight) before rotating it, as transformers'
 * {@code Qwen3Attention} does. Gemma (transformers' GemmaModel, Gemma2Model, Gemma3TextModel) scales the embedding by
 * sqrt(dim) and gates with GELU (tanh form); Gemma 2 and 3 normalize each sub-block's output before its residual add
 * and let some layers see only the last {@link RandomLlamaGguf#SLIDING_WINDOW} positions (as Phi-3 all of its layers) (Gemma 2: even layers, soft
 * caps on scores and logits; Gemma 3: five of six, QK-norm, RoPE base 10000 there and a linear factor on the others).
 * Norm weights are taken as the GGUF stores them (Gemma's converter adds the 1 of its {@code 1 + weight}).
 * Granite (transformers' GraniteModel, GraniteMoeModel) multiplies the embedding, each sub-block's output and q·k by its
 * multipliers and divides the logits. A mixture of experts (transformers' MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock,
 * Qwen3MoeSparseMoeBlock, GraniteMoeMoE) softmaxes the router's scores, takes the {@link RandomLlamaGguf#EXPERTS_USED}
 * most probable experts, renormalizes their probabilities (not Qwen2-MoE) and sums the experts' SwiGLU outputs so
 * weighted; Qwen2-MoE adds its shared expert times sigmoid(its gate · x).
 */
final class ReferenceTransformer {

    private final RandomLlamaGguf.Spec spec;
    private final Function<String, double[]> tensor;
    private final boolean rotateHalf;
    private final String phi3Factors; // LongRoPE's divisors: the short ones, or the long ones past the original context

    ReferenceTransformer(RandomLlamaGguf.Spec spec, Function<String, double[]> tensor, boolean rotateHalf) {
        this(spec, tensor, rotateHalf, false);
    }

    /** {@code longRope}: phi3 turns with its long factors at every position (a context past the original one). */
    ReferenceTransformer(RandomLlamaGguf.Spec spec, Function<String, double[]> tensor, boolean rotateHalf, boolean longRope) {
        this.spec = spec;
        this.tensor = tensor;
        this.rotateHalf = rotateHalf;
        this.phi3Factors = longRope ? "rope_factors_long.weight" : "rope_factors_short.weight";
    }

    /** @return logits after every position, [tokens.length][vocab] */
    double[][] forward(int[] tokens) {
        int n = tokens.length;
        int dim = spec.dim();
        int hd = spec.headDim();
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        String arch = spec.arch();
        boolean gemma = arch.startsWith("gemma");
        boolean postNorms = arch.equals("gemma2") || arch.equals("gemma3");
        boolean granite = arch.startsWith("granite");
        double residual = granite ? RandomLlamaGguf.GRANITE_RESIDUAL_SCALE : 1;
        double[] emb = tensor.apply("token_embd.weight");
        double[][] x = new double[n][dim];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < dim; i++) {
                x[t][i] = emb[tokens[t] * dim + i] * (gemma ? Math.sqrt(dim) : granite ? RandomLlamaGguf.GRANITE_EMBEDDING_SCALE : 1);
            }
        }
        for (int l = 0; l < spec.layers(); l++) {
            String p = "blk." + l + ".";
            boolean slides = arch.equals("gemma2") ? l % 2 == 0 : arch.equals("gemma3") ? l % 6 < 5 : arch.equals("phi3");
            double theta = arch.equals("gemma3") && slides ? 10000 : spec.theta();
            double linear = arch.equals("gemma3") && !slides ? RandomLlamaGguf.GEMMA3_LINEAR : 1;
            double[][] q = new double[n][];
            double[][] k = new double[n][];
            double[][] v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rmsnorm(x[t], tensor.apply(p + "attn_norm.weight"));
                q[t] = linear(tensor.apply(p + "attn_q.weight"), xn, heads * hd);
                k[t] = linear(tensor.apply(p + "attn_k.weight"), xn, kvHeads * hd);
                v[t] = linear(tensor.apply(p + "attn_v.weight"), xn, kvHeads * hd);
                if (spec.arch().equals("qwen2") || arch.equals("qwen2moe")) {
                    addInPlace(q[t], tensor.apply(p + "attn_q.bias"));
                    addInPlace(k[t], tensor.apply(p + "attn_k.bias"));
                    addInPlace(v[t], tensor.apply(p + "attn_v.bias"));
                }
                if (spec.arch().equals("qwen3") || arch.equals("qwen3moe") || arch.equals("gemma3")) {
                    normalizeHeads(q[t], heads, tensor.apply(p + "attn_q_norm.weight"));
                    normalizeHeads(k[t], kvHeads, tensor.apply(p + "attn_k_norm.weight"));
                }
                rope(q[t], heads, t / linear, theta);
                rope(k[t], kvHeads, t / linear, theta);
            }
            for (int t = 0; t < n; t++) {
                double[] out = new double[heads * hd];
                for (int h = 0; h < heads; h++) {
                    int kvh = h / (heads / kvHeads);
                    double[] w = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    int first = slides ? Math.max(0, t - RandomLlamaGguf.SLIDING_WINDOW + 1) : 0;
                    for (int s = first; s <= t; s++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) {
                            dot += q[t][h * hd + i] * k[s][kvh * hd + i];
                        }
                        w[s] = granite ? dot * RandomLlamaGguf.GRANITE_ATTENTION_SCALE : dot / Math.sqrt(hd);
                        if (arch.equals("gemma2")) {
                            w[s] = RandomLlamaGguf.GEMMA2_ATTN_CAP * Math.tanh(w[s] / RandomLlamaGguf.GEMMA2_ATTN_CAP);
                        }
                        max = Math.max(max, w[s]);
                    }
                    double z = 0;
                    for (int s = first; s <= t; s++) {
                        w[s] = Math.exp(w[s] - max);
                        z += w[s];
                    }
                    for (int s = first; s <= t; s++) {
                        for (int i = 0; i < hd; i++) {
                            out[h * hd + i] += w[s] / z * v[s][kvh * hd + i];
                        }
                    }
                }
                double[] o = linear(tensor.apply(p + "attn_output.weight"), out, dim);
                addInPlace(x[t], scaled(postNorms ? rmsnorm(o, tensor.apply(p + "post_attention_norm.weight")) : o, residual));
            }
            for (int t = 0; t < n; t++) {
                double[] xn = rmsnorm(x[t], tensor.apply(p + "ffn_norm.weight"));
                if (spec.experts() > 0) {
                    addInPlace(x[t], scaled(experts(p, xn), residual));
                    continue;
                }
                double[] g = linear(tensor.apply(p + "ffn_gate.weight"), xn, spec.hidden());
                double[] u = linear(tensor.apply(p + "ffn_up.weight"), xn, spec.hidden());
                for (int i = 0; i < g.length; i++) {
                    double a = gemma ? 0.5 * g[i] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g[i] + 0.044715 * Math.pow(g[i], 3))))
                            : g[i] / (1 + Math.exp(-g[i]));
                    g[i] = a * u[i];
                }
                double[] d = linear(tensor.apply(p + "ffn_down.weight"), g, dim);
                addInPlace(x[t], scaled(postNorms ? rmsnorm(d, tensor.apply(p + "post_ffw_norm.weight")) : d, residual));
            }
        }
        double[] out = tensor.apply(spec.tied() ? "token_embd.weight" : "output.weight");
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) {
            logits[t] = linear(out, rmsnorm(x[t], tensor.apply("output_norm.weight")), spec.vocab());
            if (arch.equals("gemma2")) {
                for (int i = 0; i < logits[t].length; i++) {
                    logits[t][i] = RandomLlamaGguf.GEMMA2_FINAL_CAP * Math.tanh(logits[t][i] / RandomLlamaGguf.GEMMA2_FINAL_CAP);
                }
            }
            if (granite) {
                logits[t] = scaled(logits[t], 1 / RandomLlamaGguf.GRANITE_LOGIT_SCALE);
            }
        }
        return logits;
    }

    /** Layer {@code p}'s mixture of experts on one normalized token {@code xn}. */
    private double[] experts(String p, double[] xn) {
        int e = spec.experts();
        int dim = spec.dim();
        int hidden = spec.hidden();
        double[] scores = linear(tensor.apply(p + "ffn_gate_inp.weight"), xn, e);
        double max = java.util.Arrays.stream(scores).max().orElseThrow();
        double z = 0;
        for (int i = 0; i < e; i++) {
            scores[i] = Math.exp(scores[i] - max);
            z += scores[i];
        }
        Integer[] ranked = new Integer[e];
        for (int i = 0; i < e; i++) {
            scores[i] /= z;
            ranked[i] = i;
        }
        final double[] probs = scores;
        java.util.Arrays.sort(ranked, (a, b) -> Double.compare(probs[b], probs[a])); // stable: the lower index first on a tie
        double chosen = 0;
        for (int j = 0; j < RandomLlamaGguf.EXPERTS_USED; j++) {
            chosen += probs[ranked[j]];
        }
        double[] out = new double[dim];
        for (int j = 0; j < RandomLlamaGguf.EXPERTS_USED; j++) {
            int x = ranked[j];
            double weight = spec.arch().equals("qwen2moe") ? probs[x] : probs[x] / chosen;
            double[] y = swiglu(expert(p + "ffn_gate", x, hidden, dim), expert(p + "ffn_up", x, hidden, dim),
                    expert(p + "ffn_down", x, dim, hidden), xn);
            addInPlace(out, scaled(y, weight));
        }
        if (spec.arch().equals("qwen2moe")) {
            double gate = 0;
            double[] g = tensor.apply(p + "ffn_gate_inp_shexp.weight");
            for (int i = 0; i < dim; i++) {
                gate += g[i] * xn[i];
            }
            double[] y = swiglu(tensor.apply(p + "ffn_gate_shexp.weight"), tensor.apply(p + "ffn_up_shexp.weight"),
                    tensor.apply(p + "ffn_down_shexp.weight"), xn);
            addInPlace(out, scaled(y, 1 / (1 + Math.exp(-gate))));
        }
        return out;
    }

    /** Expert x's [rows, cols] of {@code kind} (e.g. "blk.0.ffn_up"), merged or in its own tensor as the spec wrote it. */
    private double[] expert(String kind, int x, int rows, int cols) {
        if (spec.splitExperts()) {
            return tensor.apply(kind + "." + x + ".weight");
        }
        return java.util.Arrays.copyOfRange(tensor.apply(kind + "_exps.weight"), x * rows * cols, (x + 1) * rows * cols);
    }

    /** down · (silu(gate · xn) ⊙ up · xn) */
    private static double[] swiglu(double[] gate, double[] up, double[] down, double[] xn) {
        int hidden = gate.length / xn.length;
        double[] g = linear(gate, xn, hidden);
        double[] u = linear(up, xn, hidden);
        for (int i = 0; i < hidden; i++) {
            g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
        }
        return linear(down, g, xn.length);
    }

    private static double[] scaled(double[] v, double s) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] * s;
        }
        return out;
    }

    /**
     * Rotates each head of {@code x} for position {@code pos}: its first {@link RandomLlamaGguf.Spec#rotated} dimensions,
     * with phi3's LongRoPE divisors and magnitude factor (transformers' Phi3 rotary embedding: inv_freq / short_factor
     * below the original context, / long_factor past it; cos and sin times the attention factor).
     */
    private void rope(double[] x, int heads, double pos, double theta) {
        int hd = spec.headDim();
        int rd = spec.rotated();
        boolean phi3 = spec.arch().equals("phi3");
        double[] divisors = phi3 ? tensor.apply(phi3Factors) : null;
        double magnitude = phi3 ? RandomLlamaGguf.PHI3_ATTN_FACTOR : 1;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < rd / 2; i++) {
                double freq = Math.pow(theta, -2.0 * i / rd);
                if (divisors != null) {
                    freq /= divisors[i];
                } else if (spec.llama3() != null) {
                    freq = llama3(freq, spec.llama3());
                }
                double angle = pos * freq;
                int a = h * hd + (rotateHalf ? i : 2 * i);
                int b = h * hd + (rotateHalf ? i + rd / 2 : 2 * i + 1);
                double x0 = x[a];
                double x1 = x[b];
                x[a] = magnitude * (x0 * Math.cos(angle) - x1 * Math.sin(angle));
                x[b] = magnitude * (x0 * Math.sin(angle) + x1 * Math.cos(angle));
            }
        }
    }

    /** Meta's llama3 apply_scaling (llama-models, reference implementation) for one frequency. */
    static double llama3(double freq, ModelConfig.RopeScaling s) {
        double wavelen = 2 * Math.PI / freq;
        double lowWavelen = s.originalContextLength() / (double) s.lowFreqFactor();
        double highWavelen = s.originalContextLength() / (double) s.highFreqFactor();
        if (wavelen < highWavelen) {
            return freq;
        } else if (wavelen > lowWavelen) {
            return freq / s.factor();
        }
        double smooth = (s.originalContextLength() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * freq / s.factor() + smooth * freq;
    }

    /** Qwen3's QK-norm: each head of {@code x} replaced by its RMSNorm with the weight {@code w} [headDim]. */
    private void normalizeHeads(double[] x, int heads, double[] w) {
        int hd = spec.headDim();
        for (int h = 0; h < heads; h++) {
            double[] head = java.util.Arrays.copyOfRange(x, h * hd, (h + 1) * hd);
            System.arraycopy(rmsnorm(head, w), 0, x, h * hd, hd);
        }
    }

    private double[] rmsnorm(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double scale = 1 / Math.sqrt(ss / x.length + spec.eps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * w[i];
        }
        return out;
    }

    /** W x for a row-major W of [rows, x.length]. */
    private static double[] linear(double[] w, double[] x, int rows) {
        int cols = x.length;
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += w[r * cols + c] * x[c];
            }
            y[r] = s;
        }
        return y;
    }

    private static void addInPlace(double[] y, double[] x) {
        for (int i = 0; i < y.length; i++) {
            y[i] += x[i];
        }
    }
}
