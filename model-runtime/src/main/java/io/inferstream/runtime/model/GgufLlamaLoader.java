package io.inferstream.runtime.model;

import java.util.Locale;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufTensorInfo;
import io.inferstream.runtime.tensor.Matrix;

/**
 * Reads a llama / qwen2 / qwen2moe / qwen3 / qwen3moe / phi3 / gemma / gemma2 / gemma3 / granite / granitemoe GGUF the way llama.cpp does: hyper-parameters from {@code <arch>.*} keys,
 * tensors by their llama.cpp names, the output matrix falling back to the token embedding when the
 * model ties them. Phi-3's fused tensors are cut into the roles' matrices at load: {@code attn_qkv} into Q, K and V
 * (in that row order), {@code ffn_up} of twice the feed-forward rows into gate (first half) and up (second half),
 * each a view of the file's rows, not a copy. Gemma's block (llama.cpp's llm_build_gemma*) is described by
 * {@link BlockOptions}; its converter already stores every norm weight as 1 + w, so its RMSNorms are Llama's.
 */
final class GgufLlamaLoader implements LlamaTensors {

    private static final java.util.List<String> ARCHITECTURES = java.util.List.of("llama", "qwen2", "qwen2moe", "qwen3",
            "qwen3moe", "phi3", "gemma", "gemma2", "gemma3", "granite", "granitemoe");
    /** llama.cpp's LLAMA_ROPE_TYPE_NORM architectures (adjacent pairs); the others turn NeoX halves. */
    private static final java.util.List<String> ADJACENT_PAIR_ROPE = java.util.List.of("llama", "granite", "granitemoe");

    private final GgufFile gguf;
    private final String arch;
    private final int contextTokens; // the context asked for; 0: the model's default
    private ModelConfig config; // set when the weights are read: the fused tensors' parts need its widths

    private GgufLlamaLoader(GgufFile gguf, int contextTokens) {
        if (contextTokens < 0) {
            throw new IllegalArgumentException("context of " + contextTokens + " tokens: expected 0 (the model's) or more");
        }
        this.gguf = gguf;
        this.arch = gguf.getString("general.architecture", "");
        this.contextTokens = contextTokens;
    }

    /** The model run for a context of {@code contextTokens} positions (0: its default); see {@link #config(GgufFile, int)}. */
    static LlamaModel load(GgufFile gguf, int contextTokens) {
        GgufLlamaLoader loader = new GgufLlamaLoader(gguf, contextTokens);
        ModelConfig config = loader.config();
        return new LlamaModel(config, loader.weights(config));
    }

    /**
     * The configuration of a GGUF model, without loading its weights, for a context of {@code contextTokens} positions
     * (0: the model's default). Only LongRoPE depends on it: up to the original context the model turns with the short
     * factors and its context is the original one; asked for more, it turns with the long factors at every position
     * and its context is what was asked, up to {@code context_length} (llama.cpp chooses the factors by n_ctx the
     * same way). Every other model keeps its {@code context_length}.
     */
    static ModelConfig config(GgufFile gguf, int contextTokens) {
        return new GgufLlamaLoader(gguf, contextTokens).config();
    }

    private ModelConfig config() {
        if (!ARCHITECTURES.contains(arch)) {
            throw new IllegalArgumentException(gguf.path() + ": general.architecture is '" + arch
                    + "'; supported are llama (Llama 2/3, TinyLlama, SmolLM, Mistral, Mixtral), qwen2 (Qwen2, Qwen2.5), "
                    + "qwen2moe, qwen3, qwen3moe, phi3 (Phi-3, Phi-3.5, Phi-4-mini), gemma, gemma2, gemma3 (Gemma 3's text "
                    + "models), granite and granitemoe (IBM Granite 3)");
        }
        int dim = requireInt("embedding_length");
        int nHeads = requireInt("attention.head_count");
        int nKvHeads = gguf.getInt(arch + ".attention.head_count_kv", nHeads);
        int headDim = gguf.getInt(arch + ".attention.key_length", dim / nHeads);
        int valueDim = gguf.getInt(arch + ".attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".attention.value_length is " + valueDim
                    + " but key_length is " + headDim + "; keys and values of different widths are not supported");
        }
        int ropeDim = gguf.getInt(arch + ".rope.dimension_count", headDim);
        if (ropeDim > headDim || ropeDim <= 0 || ropeDim % 2 != 0) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".rope.dimension_count is " + ropeDim
                    + ", expected an even number of dimensions up to the head's " + headDim);
        }
        int vocab = (int) tensor("token_embd.weight").ne(1);
        int context = gguf.getInt(arch + ".context_length", 2048);
        float magnitude = 1f;
        if (longRope()) {
            // LongRoPE: the short factors up to the original context, the long ones for a longer context (weights())
            int original = requireInt("rope.scaling.original_context_length");
            context = contextTokens > original ? Math.min(contextTokens, Math.max(context, original)) : Math.min(context, original);
            magnitude = gguf.getFloat(arch + ".rope.scaling.attn_factor", 1f);
        }
        int layers = requireInt("block_count");
        int hidden = requireInt("feed_forward_length");
        BlockOptions block = arch.startsWith("gemma") ? gemmaBlock(dim, nHeads, layers)
                : arch.startsWith("granite") ? graniteBlock() : phi3Block();
        return new ModelConfig(arch, dim, hidden, layers, nHeads, nKvHeads,
                headDim, vocab, context,
                gguf.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f),
                gguf.getFloat(arch + ".rope.freq_base", 10000f),
                !ADJACENT_PAIR_ROPE.contains(arch), ropeScaling(), ropeDim, magnitude,
                ropeLinearFactor(), block.withExperts(experts(hidden)));
    }

    /**
     * The mixture of experts as llama.cpp reads it: {@code expert_count} experts of {@code expert_feed_forward_length}
     * (else {@code feed_forward_length}), {@code expert_used_count} per token, softmax gating; the chosen experts'
     * probabilities renormalized but for qwen2moe (llama.cpp's norm_w), unless {@code expert_weights_norm} says; a
     * shared expert where the file has one. Null for a dense model.
     */
    private Experts experts(int hidden) {
        int count = gguf.getInt(arch + ".expert_count", 0);
        if (count == 0) {
            return null;
        }
        int gating = gguf.getInt(arch + ".expert_gating_func", 1);
        if (gating != 1) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".expert_gating_func is " + gating
                    + "; only softmax gating (1) is supported");
        }
        int used = requireInt("expert_used_count");
        boolean normalize = gguf.getBoolean(arch + ".expert_weights_norm", !arch.equals("qwen2moe"));
        float scale = gguf.getFloat(arch + ".expert_weights_scale", 0f);
        int shared = gguf.getInt(arch + ".expert_shared_feed_forward_length", 0);
        if (shared == 0 && gguf.hasTensor("blk.0.ffn_gate_shexp.weight")) {
            shared = (int) gguf.tensor("blk.0.ffn_gate_shexp.weight").ne(1);
        }
        try {
            return new Experts(count, used, gguf.getInt(arch + ".expert_feed_forward_length", hidden), normalize,
                    scale > 0 ? scale : 1f, shared);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".expert_count / expert_used_count: " + e.getMessage(), e);
        }
    }

    /**
     * IBM Granite's block (llama.cpp llm_build_granite): the embedding times {@code embedding_scale}, each sub-block's
     * output times {@code residual_scale} before its residual add, q·k times {@code attention.scale}, the logits divided
     * by {@code logit_scale}; a scale that is absent or 0 is not applied (the logit scale is required).
     */
    private BlockOptions graniteBlock() {
        float embedding = gguf.getFloat(arch + ".embedding_scale", 0f);
        float residual = gguf.getFloat(arch + ".residual_scale", 0f);
        float attention = gguf.getFloat(arch + ".attention.scale", 0f);
        if (!gguf.has(arch + ".logit_scale")) {
            throw new IllegalArgumentException(gguf.path() + ": metadata key " + arch + ".logit_scale is missing");
        }
        float logit = gguf.getFloat(arch + ".logit_scale");
        return new BlockOptions(embedding > 0 ? embedding : 1f, false, false, attention, 0f, 0f, null,
                residual > 0 ? residual : 1f, logit, null);
    }

    /**
     * transformers' Phi3 attends to the last {@code sliding_window} positions in every layer (Phi-3-mini-4k: 2047 of its
     * 4096); so does this runtime, with the model's own RoPE there. llama.cpp ignores the window.
     */
    private BlockOptions phi3Block() {
        int size = arch.equals("phi3") ? gguf.getInt(arch + ".attention.sliding_window", 0) : 0;
        if (size <= 0) {
            return BlockOptions.LLAMA;
        }
        SlidingWindow window = new SlidingWindow(size, 0, gguf.getFloat(arch + ".rope.freq_base", 10000f));
        return new BlockOptions(1f, false, false, 0f, 0f, 0f, window);
    }

    /**
     * Gemma's block as llama.cpp builds it (llm_build_gemma, _gemma2_iswa, _gemma3_iswa): the embedding times sqrt(dim),
     * GeGLU; from Gemma 2 on, post-norms and sliding-window layers (Gemma 2: every other one, with the global layers'
     * RoPE, 4096 positions; Gemma 3: five of six, RoPE base 10000, unscaled); Gemma 2's soft caps. The attention scale is
     * 1/sqrt(query_pre_attn_scalar), which GGUF does not carry: llama.cpp takes it as 1/sqrt(dim / heads) for the 27B
     * models (Gemma 2: 46 layers, Gemma 3: 62) and 1/sqrt(head size) for the others, as their configs have it.
     */
    private BlockOptions gemmaBlock(int dim, int nHeads, int layers) {
        float embeddingScale = (float) Math.sqrt(dim);
        if (arch.equals("gemma")) {
            return new BlockOptions(embeddingScale, true, false, 0f, 0f, 0f, null);
        }
        boolean gemma2 = arch.equals("gemma2");
        boolean largest = layers == (gemma2 ? 46 : 62);
        float attentionScale = largest ? (float) (1.0 / Math.sqrt((double) (dim / nHeads))) : 0f;
        int size = gguf.getInt(arch + ".attention.sliding_window", 0);
        SlidingWindow window = size <= 0 ? null
                : gemma2 ? new SlidingWindow(size, 2, gguf.getFloat(arch + ".rope.freq_base", 10000f))
                : new SlidingWindow(size, 6, 10000f);
        float attentionCap = gemma2 ? gguf.getFloat(arch + ".attn_logit_softcapping", 50f) : 0f;
        float finalCap = gguf.getFloat(arch + ".final_logit_softcapping", gemma2 ? 30f : 0f);
        return new BlockOptions(embeddingScale, true, true, attentionScale, attentionCap, finalCap, window);
    }

    /**
     * The linear RoPE factor as llama.cpp reads it: {@code rope.scaling.factor} (or the older {@code rope.scale_linear})
     * unless the scaling type is another one (Llama 3's factor belongs to its own scaling); 1 without one.
     */
    private float ropeLinearFactor() {
        String type = gguf.getString(arch + ".rope.scaling.type", "none").toLowerCase(Locale.ROOT);
        if (!type.equals("linear") && !type.equals("none")) {
            return 1f;
        }
        float factor = gguf.getFloat(arch + ".rope.scaling.factor", gguf.getFloat(arch + ".rope.scale_linear", 1f));
        if (!(factor > 0)) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".rope.scaling.factor is " + factor
                    + ", expected a positive linear RoPE factor");
        }
        return factor;
    }

    /** Phi-3's LongRoPE: per-pair frequency divisors for short and for long contexts. */
    private boolean longRope() {
        return gguf.hasTensor("rope_factors_short.weight");
    }

    /** Llama 3.1 scaling from {@code <arch>.rope.scaling.*}; null when absent, "none" or "linear". */
    private ModelConfig.RopeScaling ropeScaling() {
        String type = gguf.getString(arch + ".rope.scaling.type", "none").toLowerCase(Locale.ROOT);
        if (type.equals("none") || type.equals("linear")) {
            return null; // linear: ropeLinearFactor
        }
        if (!type.equals("llama3")) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".rope.scaling.type '" + type
                    + "' is not supported (supported: none, linear, llama3)");
        }
        return new ModelConfig.RopeScaling(
                gguf.getFloat(arch + ".rope.scaling.factor", 8f),
                gguf.getFloat(arch + ".rope.scaling.low_freq_factor", 1f),
                gguf.getFloat(arch + ".rope.scaling.high_freq_factor", 4f),
                gguf.getInt(arch + ".rope.scaling.original_context_length", 8192));
    }

    private LlamaWeights weights(ModelConfig c) {
        this.config = c;
        String factors = !longRope() ? "rope_freqs.weight"
                : c.contextLength() > requireInt("rope.scaling.original_context_length") ? "rope_factors_long.weight"
                : "rope_factors_short.weight";
        boolean required = factors.equals("rope_factors_long.weight"); // asked for by the context: not optional
        float[] ropeFactors = required || gguf.hasTensor(factors) ? vector(factors, c.ropeDim() / 2) : null;
        return LlamaTensors.read(c, this, gguf.hasTensor("blk.0.attn_q.bias"), ropeFactors);
    }

    @Override
    public String name(Role role, int layer) {
        return ggufName(role, layer);
    }

    @Override
    public boolean has(String name) {
        return gguf.hasTensor(name);
    }

    /** llama.cpp's tensor names. */
    static String ggufName(Role role, int layer) {
        String p = "blk." + layer + ".";
        return switch (role) {
            case TOKEN_EMBEDDING -> "token_embd.weight";
            case ATTN_NORM -> p + "attn_norm.weight";
            case WQ -> p + "attn_q.weight";
            case WK -> p + "attn_k.weight";
            case WV -> p + "attn_v.weight";
            case WO -> p + "attn_output.weight";
            case BQ -> p + "attn_q.bias";
            case BK -> p + "attn_k.bias";
            case BV -> p + "attn_v.bias";
            case Q_NORM -> p + "attn_q_norm.weight";
            case K_NORM -> p + "attn_k_norm.weight";
            case POST_ATTN_NORM -> p + "post_attention_norm.weight";
            case FFN_NORM -> p + "ffn_norm.weight";
            case GATE -> p + "ffn_gate.weight";
            case UP -> p + "ffn_up.weight";
            case DOWN -> p + "ffn_down.weight";
            case POST_FFN_NORM -> p + "post_ffw_norm.weight";
            case OUTPUT_NORM -> "output_norm.weight";
            case OUTPUT -> "output.weight";
            case ROUTER -> p + "ffn_gate_inp.weight";
            case EXPERT_GATE -> p + "ffn_gate_exps.weight";
            case EXPERT_UP -> p + "ffn_up_exps.weight";
            case EXPERT_DOWN -> p + "ffn_down_exps.weight";
            case SHARED_GATE -> p + "ffn_gate_shexp.weight";
            case SHARED_UP -> p + "ffn_up_shexp.weight";
            case SHARED_DOWN -> p + "ffn_down_shexp.weight";
            case SHARED_ROUTER -> p + "ffn_gate_inp_shexp.weight";
        };
    }

    /**
     * Expert {@code expert}'s [rows, cols] of a merged tensor of ne = [cols, rows, experts] ({@code ffn_gate_exps} and
     * the like, a view of its rows), or of its own tensor in files converted before llama.cpp merged them
     * ({@code blk.N.ffn_gate.E.weight}, early Mixtral GGUFs).
     */
    @Override
    public Matrix expert(Role role, int layer, int expert, int rows, int cols) {
        String merged = ggufName(role, layer);
        if (!gguf.hasTensor(merged)) {
            String single = merged.replace("_exps.weight", "." + expert + ".weight");
            if (gguf.hasTensor(single)) {
                return matrix(single, rows, cols);
            }
        }
        GgufTensorInfo t = tensor(merged);
        int count = config.block().experts().count();
        if (t.dims() != 3 || t.ne(0) != cols || t.ne(1) != rows || t.ne(2) != count) {
            throw new IllegalArgumentException(gguf.path() + ": tensor " + merged + " has shape "
                    + java.util.Arrays.toString(t.shape()) + ", expected [" + cols + ", " + rows + ", " + count + "]");
        }
        long bytes = t.type().bytesFor(cols) * rows;
        java.nio.ByteBuffer data = gguf.tensorData(merged);
        java.nio.ByteBuffer part = data.slice(data.position() + Math.toIntExact(expert * bytes), Math.toIntExact(bytes));
        return Matrix.of(t.type(), part, rows, cols, merged + "[" + expert + "]");
    }

    private int requireInt(String suffix) {
        String key = arch + "." + suffix;
        if (!gguf.has(key)) {
            throw new IllegalArgumentException(gguf.path() + ": metadata key " + key + " is missing");
        }
        return gguf.getInt(key);
    }

    private GgufTensorInfo tensor(String name) {
        if (!gguf.hasTensor(name)) {
            throw new IllegalArgumentException(gguf.path() + ": tensor " + name + " is missing");
        }
        return gguf.tensor(name);
    }

    /**
     * A weight matrix of ne = [cols, rows] (GGUF lists the contiguous dimension first), or its rows in a fused
     * tensor (Phi-3's attn_qkv, and gate and up in a double-height ffn_up) when the file stores the role that way.
     */
    @Override
    public Matrix matrix(String name, int rows, int cols) {
        String layer = name.startsWith("blk.") ? name.substring(0, name.indexOf('.', 4) + 1) : "";
        String role = name.substring(layer.length());
        if (config != null && role.matches("attn_[qkv]\\.weight") && !gguf.hasTensor(name) && gguf.hasTensor(layer + "attn_qkv.weight")) {
            int qDim = config.nHeads() * config.headDim();
            int first = switch (role.charAt(5)) {
                case 'q' -> 0;
                case 'k' -> qDim;
                default -> qDim + config.kvDim();
            };
            return rowsOf(layer + "attn_qkv.weight", qDim + 2 * config.kvDim(), first, rows, cols);
        }
        boolean fusedUp = config != null && !gguf.hasTensor(layer + "ffn_gate.weight") && gguf.hasTensor(layer + "ffn_up.weight");
        if (fusedUp && role.equals("ffn_gate.weight")) {
            return rowsOf(layer + "ffn_up.weight", 2 * rows, 0, rows, cols);
        }
        if (fusedUp && role.equals("ffn_up.weight")) {
            return rowsOf(name, 2 * rows, rows, rows, cols);
        }
        GgufTensorInfo t = tensor(name);
        if (t.dims() != 2 || t.ne(0) != cols || t.ne(1) != rows) {
            throw new IllegalArgumentException(gguf.path() + ": tensor " + name + " has shape "
                    + java.util.Arrays.toString(t.shape()) + ", expected [" + cols + ", " + rows + "]");
        }
        return Matrix.of(t.type(), gguf.tensorData(name), rows, cols, name);
    }

    /** Rows [first, first + rows) of fused tensor {@code name} of ne = [cols, totalRows], named as a {@link RowView}. */
    private Matrix rowsOf(String name, int totalRows, int first, int rows, int cols) {
        GgufTensorInfo t = tensor(name);
        if (t.dims() != 2 || t.ne(0) != cols || t.ne(1) != totalRows) {
            throw new IllegalArgumentException(gguf.path() + ": fused tensor " + name + " has shape "
                    + java.util.Arrays.toString(t.shape()) + ", expected [" + cols + ", " + totalRows + "]");
        }
        long rowBytes = t.type().bytesFor(cols);
        java.nio.ByteBuffer data = gguf.tensorData(name);
        java.nio.ByteBuffer part0 = data.slice(data.position() + Math.toIntExact(first * rowBytes), Math.toIntExact(rows * rowBytes));
        return Matrix.of(t.type(), part0, rows, cols, new RowView(name, first, first + rows).name());
    }

    /** A 1-D tensor (norm weight, bias, rope factors) as floats, dequantized if stored as F16. */
    @Override
    public float[] vector(String name, int length) {
        GgufTensorInfo t = tensor(name);
        if (t.elementCount() != length) {
            throw new IllegalArgumentException(gguf.path() + ": tensor " + name + " has " + t.elementCount()
                    + " elements, expected " + length);
        }
        float[] out = new float[length];
        Matrix.of(t.type(), gguf.tensorData(name), 1, length, name).dequantizeRow(0, out, 0);
        return out;
    }
}
