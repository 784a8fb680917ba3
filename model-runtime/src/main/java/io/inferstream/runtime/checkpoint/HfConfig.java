package io.inferstream.runtime.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.model.BlockOptions;
import io.inferstream.runtime.model.Experts;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.SlidingWindow;
import io.inferstream.runtime.safetensors.SafetensorsWriter;

/**
 * A Hugging Face {@code config.json} of the Llama family (transformers' {@code LlamaConfig}, {@code MistralConfig},
 * {@code Qwen2Config}, {@code Qwen3Config}, the mixtures of experts {@code MixtralConfig}, {@code Qwen2MoeConfig} and
 * {@code Qwen3MoeConfig}, IBM's {@code GraniteConfig} and {@code GraniteMoeConfig}, Microsoft's {@code Phi3Config} (Phi-3,
 * Phi-3.5-mini, Phi-4-mini: fused tensors, LongRoPE, partial rotation) and {@code Gemma2Config} and
 * {@code Gemma3TextConfig} with their {@link BlockOptions}), with transformers' defaults for the keys a file leaves out.
 *
 * @param file           the config.json read
 * @param modelType      {@code model_type}: llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, granite, granitemoe,
 *                       phi3, gemma2, gemma3_text, or gemma3 (Gemma 3 with vision: its text model)
 * @param model          the hyper-parameters; RoPE in the NeoX layout, as transformers' {@code rotate_half} applies it
 * @param tiedEmbeddings {@code tie_word_embeddings}: the output matrix is the token embedding
 * @param qkvBias        q/k/v projections carry biases (always for qwen2, {@code attention_bias} for llama and qwen3)
 * @param ropeFactors    per-pair RoPE frequency divisors (Phi-3's LongRoPE {@code short_factor}, or {@code long_factor}
 *                       for a context past the original one), or null
 */
public record HfConfig(Path file, String modelType, ModelConfig model, boolean tiedEmbeddings, boolean qkvBias,
                       float[] ropeFactors) {

    public HfConfig(Path file, String modelType, ModelConfig model, boolean tiedEmbeddings, boolean qkvBias) {
        this(file, modelType, model, tiedEmbeddings, qkvBias, null);
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TYPES = Set.of("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
            "granite", "granitemoe", "phi3", "gemma2", "gemma3_text");

    /** Reads {@code config.json}; unsupported or contradictory settings fail here, naming the file and the key. */
    public static HfConfig read(Path file) {
        return read(file, 0);
    }

    /**
     * Reads {@code config.json} for a model run with a context of {@code contextTokens} positions (0: its default),
     * which only LongRoPE depends on: {@link #phi3}.
     */
    public static HfConfig read(Path file, int contextTokens) {
        if (contextTokens < 0) {
            throw new IllegalArgumentException("context of " + contextTokens + " tokens: expected 0 (the model's) or more");
        }
        JsonNode c;
        try {
            c = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        if (c == null || !c.isObject()) {
            throw new IllegalArgumentException(file + " is not a JSON object");
        }
        String type = c.path("model_type").asText("");
        boolean withVision = type.equals("gemma3"); // Gemma3ForConditionalGeneration: the text model of a model with vision
        if (withVision) {
            c = gemma3TextConfig(c, file);
            type = "gemma3_text";
        }
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException(file + ": model_type is '" + type + "' (architectures "
                    + c.path("architectures") + "); supported are llama (Llama 2/3, SmolLM, TinyLlama), mistral, mixtral, qwen2"
                    + " (Qwen2, Qwen2.5), qwen2_moe, qwen3, qwen3_moe, granite, granitemoe, phi3 (Phi-3, Phi-3.5-mini, Phi-4-mini),"
                    + " gemma2, gemma3_text (Gemma 3 270M, 1B) and gemma3 (the text model of Gemma 3 4B, 12B, 27B);"
                    + " Gemma 1 as GGUF files");
        }
        if (c.has("quantization_config")) {
            throw new IllegalArgumentException(file + ": quantization_config ("
                    + c.path("quantization_config").path("quant_method").asText("?") + ") is set: quantized safetensors"
                    + " checkpoints are not supported; use the unquantized F32/F16/BF16 weights, or a GGUF file");
        }
        boolean gemma = type.equals("gemma2") || type.equals("gemma3_text");
        String act = gemma ? c.path("hidden_activation").asText(c.path("hidden_act").asText("gelu_pytorch_tanh"))
                : c.path("hidden_act").asText("silu");
        if (!act.equals(gemma ? "gelu_pytorch_tanh" : "silu")) {
            throw new IllegalArgumentException(file + ": " + (gemma ? "hidden_activation" : "hidden_act") + " is '" + act
                    + "'; " + (gemma ? "Gemma's GeGLU needs gelu_pytorch_tanh" : "the Llama family's SwiGLU needs silu"));
        }
        if (c.path("mlp_bias").asBoolean(false)) {
            throw new IllegalArgumentException(file + ": mlp_bias is true; feed-forward biases are not supported");
        }
        int dim = positive(c, file, "hidden_size");
        int heads = positive(c, file, "num_attention_heads");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? positive(c, file, "num_key_value_heads") : heads;
        boolean qwen3 = type.equals("qwen3");
        boolean qwen2 = type.equals("qwen2") || type.equals("qwen2_moe");
        boolean qwenFamily = qwen2 || type.startsWith("qwen3");
        // Qwen3Config defaults head_dim to 128 whatever the width, Gemma's configs to 256; the others to hidden_size / heads
        int headDim = c.hasNonNull("head_dim") ? positive(c, file, "head_dim") : qwen3 ? 128 : gemma ? 256 : dim / heads;
        if (!c.hasNonNull("head_dim") && !qwen3 && !gemma && dim % heads != 0) {
            throw new IllegalArgumentException(file + ": hidden_size " + dim + " is not a multiple of num_attention_heads "
                    + heads + " and head_dim is not given");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(file + ": num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException(file + ": heads of " + headDim + " dimensions; RoPE needs an even head_dim");
        }
        // transformers' defaults: 32768 for Qwen, 8192 for Gemma 2, 131072 for Gemma 3 and Mixtral, 4096 for Phi-3
        int context = c.path("max_position_embeddings").asInt(qwenFamily ? 32768
                : type.equals("gemma2") ? 8192 : gemma || type.equals("mixtral") ? 131072 : type.equals("phi3") ? 4096 : 2048);
        int layers = positive(c, file, "num_hidden_layers");
        boolean qkvBias = qwen2 || c.path("attention_bias").asBoolean(false);
        if (gemma) {
            boolean gemma2 = type.equals("gemma2");
            ModelConfig model = new ModelConfig(gemma2 ? "gemma2" : "gemma3", dim, positive(c, file, "intermediate_size"), layers,
                    heads, kvHeads, headDim, positive(c, file, "vocab_size"), context,
                    (float) c.path("rms_norm_eps").asDouble(1e-6), (float) c.path("rope_theta").asDouble(gemma2 ? 10000.0 : 1000000.0),
                    true, null, headDim, 1f, linearFactor(c, file, type), gemmaBlock(c, file, dim, gemma2));
            return new HfConfig(file, withVision ? "gemma3" : type, model, c.path("tie_word_embeddings").asBoolean(true), qkvBias);
        }
        if (type.equals("phi3")) {
            return phi3(c, file, dim, heads, kvHeads, headDim, layers, context, contextTokens);
        }
        context = Math.min(context, slidingWindow(c, type, context));
        String architecture = switch (type) {
            case "qwen2", "qwen3", "granite", "granitemoe" -> type;
            case "qwen2_moe" -> "qwen2moe";
            case "qwen3_moe" -> "qwen3moe";
            default -> "llama";
        };
        ModelConfig model = new ModelConfig(architecture, dim, positive(c, file, "intermediate_size"),
                layers, heads, kvHeads, headDim, positive(c, file, "vocab_size"), context,
                (float) c.path("rms_norm_eps").asDouble(1e-6), (float) c.path("rope_theta").asDouble(10000.0),
                true, ropeScaling(c, file), headDim, 1f, 1f, block(c, type).withExperts(experts(c, file, type, layers)));
        return new HfConfig(file, type, model, c.path("tie_word_embeddings").asBoolean(false), qkvBias);
    }

    /**
     * Phi-3's config (transformers' Phi3Config; convert_hf_to_gguf.py's Phi3MiniModel reads the same keys): the first
     * {@code partial_rotary_factor} of each head turns (Phi-4-mini: 0.75), in the rotate-half layout; every layer
     * attends to the last {@code sliding_window} positions, as the GGUF loader does. With {@code rope_scaling} of type
     * longrope (or su, its older name), transformers' Phi3 rotary embedding below the original context: frequencies
     * divided by {@code short_factor}, cos and sin times {@code attention_factor}, else sqrt(1 + ln(s) / ln(original))
     * for s = max_position_embeddings / original_max_position_embeddings; the context is the original one. Asked for a
     * longer context ({@code contextTokens}), the frequencies are divided by {@code long_factor} at every position and
     * the context is what was asked, up to max_position_embeddings: llama.cpp's choice by its context size (transformers
     * chooses per forward pass, by the longest sequence in it).
     */
    private static HfConfig phi3(JsonNode c, Path file, int dim, int heads, int kvHeads, int headDim, int layers, int context,
                                 int contextTokens) {
        double partial = c.path("partial_rotary_factor").asDouble(1.0);
        int ropeDim = (int) (headDim * partial);
        if (!(partial > 0 && partial <= 1) || ropeDim % 2 != 0 || ropeDim == 0) {
            throw new IllegalArgumentException(file + ": partial_rotary_factor " + c.path("partial_rotary_factor")
                    + " turns " + ropeDim + " of the heads' " + headDim + " dimensions; expected an even number above 0");
        }
        float theta = (float) c.path("rope_theta").asDouble(10000.0);
        float[] factors = null;
        float magnitude = 1f;
        JsonNode s = c.path("rope_scaling");
        if (!s.isMissingNode() && !s.isNull()) {
            String type = s.path("rope_type").asText(s.path("type").asText("")).toLowerCase(Locale.ROOT);
            if (!type.equals("longrope") && !type.equals("su")) {
                throw new IllegalArgumentException(file + ": rope_scaling type '" + type + "' is not supported for phi3 "
                        + "(supported: none, longrope, su)");
            }
            int original = c.hasNonNull("original_max_position_embeddings")
                    ? positive(c, file, "original_max_position_embeddings") : context;
            boolean longContext = contextTokens > original;
            float[] shortFactors = factors(s, file, "short_factor", ropeDim / 2);
            float[] longFactors = factors(s, file, "long_factor", ropeDim / 2); // both checked, whichever turns
            factors = longContext ? longFactors : shortFactors;
            double scale = (double) context / original;
            magnitude = s.hasNonNull("attention_factor") ? (float) s.path("attention_factor").asDouble()
                    : scale <= 1 ? 1f : (float) Math.sqrt(1 + Math.log(scale) / Math.log(original));
            context = longContext ? Math.min(contextTokens, Math.max(context, original)) : Math.min(context, original);
        }
        int window = c.path("sliding_window").asInt(0);
        BlockOptions block = window > 0 ? new BlockOptions(1f, false, false, 0f, 0f, 0f, new SlidingWindow(window, 0, theta))
                : BlockOptions.LLAMA;
        ModelConfig model = new ModelConfig("phi3", dim, positive(c, file, "intermediate_size"), layers, heads, kvHeads, headDim,
                positive(c, file, "vocab_size"), context, (float) c.path("rms_norm_eps").asDouble(1e-5), theta, true, null,
                ropeDim, magnitude, 1f, block);
        return new HfConfig(file, "phi3", model, c.path("tie_word_embeddings").asBoolean(false), false, factors);
    }

    /**
     * The {@code text_config} of a Gemma 3 model with vision (Gemma3ForConditionalGeneration: 4B, 12B, 27B), with
     * transformers' Gemma3TextConfig defaults for the keys it leaves out (google/gemma-3-4b-it's leaves out the head
     * counts, the head size and the vocabulary), and the whole model's dtype and tying where it does not say its own.
     * The vision tower's weights are not read.
     */
    private static JsonNode gemma3TextConfig(JsonNode c, Path file) {
        JsonNode t = c.path("text_config");
        if (!t.isObject()) {
            throw new IllegalArgumentException(file + ": model_type gemma3 (a Gemma 3 model with vision) has no text_config"
                    + " object; its text model's hyper-parameters are read from there");
        }
        ObjectNode text = ((ObjectNode) t).deepCopy();
        Object[][] defaults = {{"vocab_size", 262208}, {"hidden_size", 2304}, {"intermediate_size", 9216},
            {"num_hidden_layers", 26}, {"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"head_dim", 256},
            {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0},
            {"query_pre_attn_scalar", 256}, {"sliding_window", 4096}, {"rope_local_base_freq", 10000.0},
            {"sliding_window_pattern", 6}};
        for (Object[] d : defaults) {
            if (!text.hasNonNull((String) d[0])) {
                if (d[1] instanceof Integer i) {
                    text.put((String) d[0], i);
                } else {
                    text.put((String) d[0], (Double) d[1]);
                }
            }
        }
        for (String whole : new String[] {"torch_dtype", "dtype", "tie_word_embeddings"}) {
            if (!text.has(whole) && c.has(whole)) {
                text.set(whole, c.get(whole));
            }
        }
        text.put("model_type", "gemma3_text");
        return text;
    }

    /** {@code rope_scaling.<key>}: {@code length} positive numbers. */
    private static float[] factors(JsonNode s, Path file, String key, int length) {
        JsonNode v = s.path(key);
        if (!v.isArray() || v.size() != length) {
            throw new IllegalArgumentException(file + ": rope_scaling." + key + " is " + (v.isMissingNode() ? "missing" : "of "
                    + v.size() + " values") + "; expected " + length + " (half the rotated dimensions of a head)");
        }
        float[] out = new float[length];
        for (int i = 0; i < length; i++) {
            if (!v.get(i).isNumber() || !(v.get(i).asDouble() > 0)) {
                throw new IllegalArgumentException(file + ": rope_scaling." + key + "[" + i + "] is " + v.get(i)
                        + "; expected a positive number");
            }
            out[i] = (float) v.get(i).asDouble();
        }
        return out;
    }

    /**
     * Gemma 2's and Gemma 3's block as transformers computes it: the embedding times sqrt(hidden_size) rounded to the
     * weights' dtype, GeGLU, post-norms, 1/sqrt(query_pre_attn_scalar) on q·k, the soft caps the config sets (Gemma 2:
     * 50 and 30 by default, Gemma 3: none), and the sliding-window layers: {@code layer_types} when given (it must repeat
     * sliding layers followed by one full one), else Gemma 2's every other layer or Gemma 3's
     * {@code sliding_window_pattern}. Gemma 2's sliding layers turn RoPE as its global ones do.
     */
    private static BlockOptions gemmaBlock(JsonNode c, Path file, int dim, boolean gemma2) {
        float scale = (float) Math.sqrt(dim);
        String dtype = c.path("torch_dtype").asText(c.path("dtype").asText("float32"));
        if (dtype.equals("bfloat16")) {
            scale = Float16.bf16ToFloat(SafetensorsWriter.toBf16(scale));
        } else if (dtype.equals("float16")) {
            scale = Float16.toFloat(Float16.fromFloat(scale));
        }
        float attentionScale = (float) (1.0 / Math.sqrt(c.path("query_pre_attn_scalar").asDouble(256)));
        int period = gemma2 ? 2 : c.path("sliding_window_pattern").asInt(6);
        JsonNode types = c.path("layer_types");
        if (types.isArray() && types.size() > 0) {
            period = 0;
            for (int l = 0; l < types.size() && period == 0; l++) {
                if (types.get(l).asText().equals("full_attention")) {
                    period = l + 1;
                }
            }
            for (int l = 0; l < types.size(); l++) {
                boolean full = types.get(l).asText().equals("full_attention");
                if (period == 0 || full != ((l + 1) % period == 0)) {
                    throw new IllegalArgumentException(file + ": layer_types " + types + " is not a repeat of sliding layers "
                            + "followed by one full_attention layer, the pattern supported");
                }
            }
        }
        float localTheta = (float) (gemma2 ? c.path("rope_theta").asDouble(10000.0) : c.path("rope_local_base_freq").asDouble(10000.0));
        SlidingWindow window = c.path("sliding_window").asInt(gemma2 ? 4096 : 0) > 0 && period >= 2
                ? new SlidingWindow(c.path("sliding_window").asInt(4096), period, localTheta)
                : null;
        return new BlockOptions(scale, true, true, attentionScale, cap(c, "attn_logit_softcapping", gemma2 ? 50 : 0),
                cap(c, "final_logit_softcapping", gemma2 ? 30 : 0), window);
    }

    /**
     * The mixture of experts of a Mixtral ({@code num_local_experts}, each {@code intermediate_size} wide, the chosen
     * experts' probabilities always renormalized) or a Qwen MoE ({@code num_experts} of {@code moe_intermediate_size},
     * renormalized where {@code norm_topk_prob} says, default false; Qwen2-MoE's shared expert of
     * {@code shared_expert_intermediate_size}); {@code num_experts_per_tok} per token. Every layer must be a mixture
     * ({@code decoder_sparse_step} 1, no {@code mlp_only_layers}). Null for the dense types.
     */
    private static Experts experts(JsonNode c, Path file, String type, int layers) {
        boolean mixtral = type.equals("mixtral") || type.equals("granitemoe"); // GraniteMoeConfig names them as Mixtral's
        if (!mixtral && !type.endsWith("_moe")) {
            return null;
        }
        if (c.path("decoder_sparse_step").asInt(1) != 1 || c.path("mlp_only_layers").size() > 0) {
            throw new IllegalArgumentException(file + ": decoder_sparse_step " + c.path("decoder_sparse_step").asInt(1)
                    + ", mlp_only_layers " + c.path("mlp_only_layers") + ": dense layers among the mixture's are not supported");
        }
        int count = positive(c, file, mixtral ? "num_local_experts" : "num_experts");
        int used = positive(c, file, "num_experts_per_tok");
        int hidden = positive(c, file, mixtral ? "intermediate_size" : "moe_intermediate_size");
        boolean normalize = mixtral || c.path("norm_topk_prob").asBoolean(false);
        int shared = type.equals("qwen2_moe") ? positive(c, file, "shared_expert_intermediate_size") : 0;
        try {
            return new Experts(count, used, hidden, normalize, 1f, shared);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Granite's block (transformers' GraniteModel): the embedding times {@code embedding_multiplier}, each sub-block's
     * output times {@code residual_multiplier}, q·k times {@code attention_multiplier} (in place of 1/sqrt(head_dim)),
     * the logits divided by {@code logits_scaling}; transformers' defaults 1. Llama's block for the other types.
     */
    private static BlockOptions block(JsonNode c, String type) {
        if (!type.startsWith("granite")) {
            return BlockOptions.LLAMA;
        }
        return new BlockOptions((float) c.path("embedding_multiplier").asDouble(1.0), false, false,
                (float) c.path("attention_multiplier").asDouble(1.0), 0f, 0f, null,
                (float) c.path("residual_multiplier").asDouble(1.0), (float) c.path("logits_scaling").asDouble(1.0), null);
    }

    /** A soft cap: the key's value, its default where the key is absent, 0 (none) where it is null. */
    private static float cap(JsonNode c, String key, double absent) {
        return !c.has(key) ? (float) absent : (float) c.path(key).asDouble(0);
    }

    /** {@code rope_scaling} of type linear (Gemma 3 from 4B up: its global layers' factor 8); 1 without one. */
    private static float linearFactor(JsonNode c, Path file, String modelType) {
        JsonNode s = c.path("rope_scaling");
        if (s.isMissingNode() || s.isNull()) {
            return 1f;
        }
        String type = s.path("rope_type").asText(s.path("type").asText("")).toLowerCase(Locale.ROOT);
        if (type.equals("default")) {
            return 1f;
        }
        if (!type.equals("linear") || !s.path("factor").isNumber() || !(s.path("factor").asDouble() > 0)) {
            throw new IllegalArgumentException(file + ": rope_scaling " + s + " is not supported for " + modelType + " (supported: "
                    + "default, linear with a positive factor)");
        }
        return (float) s.path("factor").asDouble();
    }

    /**
     * Mistral, Qwen2 and Qwen3 may attend only to the last {@code sliding_window} positions. Within the window that is full
     * attention, which is what the engine computes, so the usable context is capped at the window rather than giving
     * different results beyond it.
     */
    private static int slidingWindow(JsonNode c, String type, int context) {
        JsonNode window = c.path("sliding_window");
        boolean applies = type.equals("mistral") || type.equals("mixtral")
                || (type.startsWith("qwen") && c.path("use_sliding_window").asBoolean(false));
        return applies && window.isInt() && window.asInt() > 0 ? window.asInt() : context;
    }

    /** {@code rope_scaling}: none, "default", or Llama 3.1's "llama3"; anything else is refused, by name. */
    private static ModelConfig.RopeScaling ropeScaling(JsonNode c, Path file) {
        JsonNode s = c.path("rope_scaling");
        if (s.isMissingNode() || s.isNull()) {
            return null;
        }
        String type = s.path("rope_type").asText(s.path("type").asText("")).toLowerCase(Locale.ROOT);
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new IllegalArgumentException(file + ": rope_scaling type '" + type
                    + "' is not supported (supported: default, llama3)");
        }
        for (String key : new String[] {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
            if (!s.path(key).isNumber()) {
                throw new IllegalArgumentException(file + ": rope_scaling." + key + " is missing or not a number");
            }
        }
        return new ModelConfig.RopeScaling((float) s.path("factor").asDouble(), (float) s.path("low_freq_factor").asDouble(),
                (float) s.path("high_freq_factor").asDouble(), s.path("original_max_position_embeddings").asInt());
    }

    private static int positive(JsonNode c, Path file, String key) {
        JsonNode v = c.path(key);
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
            throw new IllegalArgumentException(file + ": " + key + " is " + (v.isMissingNode() ? "missing" : v.toString())
                    + "; expected a positive integer");
        }
        return v.asInt();
    }

    /** Whether {@code folder} holds a config.json. */
    static boolean isIn(Path folder) {
        return Files.isRegularFile(folder.resolve("config.json"));
    }
}
