package io.inferstream.runtime.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.safetensors.SafetensorsDtype;
import io.inferstream.runtime.safetensors.SafetensorsShards;
import io.inferstream.runtime.safetensors.SafetensorsWriter;

/**
 * Writes the weights a {@link RandomLlamaGguf} drew as a Hugging Face folder, the way transformers'
 * {@code save_pretrained} does: {@code config.json} and {@code model.safetensors} (or shards with
 * {@code model.safetensors.index.json}), tensors by transformers' names in rotate-half Q/K order.
 * Keeps the values as stored (rounded to the dtype), by GGUF name, for {@link ReferenceTransformer}.
 */
final class RandomHfFolder {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Stored values by GGUF tensor name, widened to double. */
    final Map<String, double[]> stored = new LinkedHashMap<>();

    private RandomHfFolder() {
    }

    /** transformers' name of a GGUF tensor name (Gemma 2's and 3's for their norms when {@code gemma}). */
    static String hfName(String gguf, boolean gemma) {
        if (gemma && gguf.startsWith("blk.")) {
            String[] parts = gguf.split("\\.", 3);
            String rest = switch (parts[2]) {
                case "post_attention_norm.weight" -> "post_attention_layernorm.weight";
                case "ffn_norm.weight" -> "pre_feedforward_layernorm.weight";
                case "post_ffw_norm.weight" -> "post_feedforward_layernorm.weight";
                default -> null;
            };
            if (rest != null) {
                return "model.layers." + parts[1] + "." + rest;
            }
        }
        return hfName(gguf);
    }

    /**
     * transformers' name of a mixture's GGUF tensor ({@code expert} picks one expert of a merged {@code *_exps} tensor):
     * MixtralSparseMoeBlock's when {@code mixtral}, else the Qwen MoE blocks'; null for a tensor that is not a mixture's.
     */
    static String hfExpertName(String gguf, boolean mixtral, int expert) {
        String[] parts = gguf.split("\\.", 3);
        if (parts.length < 3 || !parts[0].equals("blk")) {
            return null;
        }
        String moe = mixtral ? "block_sparse_moe." : "mlp.";
        String rest = switch (parts[2]) {
            case "ffn_gate_inp.weight" -> moe + "gate.weight";
            case "ffn_gate_exps.weight" -> moe + "experts." + expert + (mixtral ? ".w1.weight" : ".gate_proj.weight");
            case "ffn_up_exps.weight" -> moe + "experts." + expert + (mixtral ? ".w3.weight" : ".up_proj.weight");
            case "ffn_down_exps.weight" -> moe + "experts." + expert + (mixtral ? ".w2.weight" : ".down_proj.weight");
            case "ffn_gate_shexp.weight" -> "mlp.shared_expert.gate_proj.weight";
            case "ffn_up_shexp.weight" -> "mlp.shared_expert.up_proj.weight";
            case "ffn_down_shexp.weight" -> "mlp.shared_expert.down_proj.weight";
            case "ffn_gate_inp_shexp.weight" -> "mlp.shared_expert_gate.weight";
            default -> null;
        };
        return rest == null ? null : "model.layers." + parts[1] + "." + rest;
    }

    /** transformers' name of a GGUF tensor name. */
    static String hfName(String gguf) {
        if (gguf.equals("token_embd.weight")) {
            return "model.embed_tokens.weight";
        }
        if (gguf.equals("output_norm.weight")) {
            return "model.norm.weight";
        }
        if (gguf.equals("output.weight")) {
            return "lm_head.weight";
        }
        String[] parts = gguf.split("\\.", 3); // blk, N, rest
        String rest = switch (parts[2]) {
            case "attn_norm.weight" -> "input_layernorm.weight";
            case "attn_q.weight" -> "self_attn.q_proj.weight";
            case "attn_k.weight" -> "self_attn.k_proj.weight";
            case "attn_v.weight" -> "self_attn.v_proj.weight";
            case "attn_q.bias" -> "self_attn.q_proj.bias";
            case "attn_k.bias" -> "self_attn.k_proj.bias";
            case "attn_v.bias" -> "self_attn.v_proj.bias";
            case "attn_q_norm.weight" -> "self_attn.q_norm.weight";
            case "attn_k_norm.weight" -> "self_attn.k_norm.weight";
            case "attn_output.weight" -> "self_attn.o_proj.weight";
            case "ffn_norm.weight" -> "post_attention_layernorm.weight";
            case "ffn_gate.weight" -> "mlp.gate_proj.weight";
            case "ffn_up.weight" -> "mlp.up_proj.weight";
            case "ffn_down.weight" -> "mlp.down_proj.weight";
            default -> throw new IllegalArgumentException("no transformers name for " + gguf);
        };
        return "model.layers." + parts[1] + "." + rest;
    }

    /**
     * Writes {@code m}'s weights into {@code dir}, every tensor in {@code dtype} (norms and biases too, as
     * {@code save_pretrained} writes a model loaded in that dtype), split over {@code shards} files when more than one.
     */
    static RandomHfFolder write(RandomLlamaGguf m, Path dir, SafetensorsDtype dtype, int shards) {
        RandomHfFolder folder = new RandomHfFolder();
        RandomLlamaGguf.Spec spec = m.spec;
        List<SafetensorsWriter> writers = new ArrayList<>();
        for (int i = 0; i < shards; i++) {
            writers.add(new SafetensorsWriter().putMetadata("format", "pt"));
        }
        ObjectNode weightMap = JSON.createObjectNode();
        boolean gemma = spec.arch().equals("gemma2") || spec.arch().equals("gemma3");
        boolean phi3 = spec.arch().equals("phi3");
        int i = 0;
        for (Map.Entry<String, float[]> e : m.weights.entrySet()) {
            if (phi3 && e.getKey().startsWith("rope_factors_")) { // config.json's rope_scaling lists
                folder.stored.put(e.getKey(), rounded(e.getValue(), SafetensorsDtype.F32, false));
                continue;
            }
            if (phi3 && e.getKey().matches("blk\\.\\d+\\.(attn_[qkv]|ffn_gate|ffn_up)\\.weight")) {
                // Phi3ForCausalLM keeps Q, K, V in qkv_proj and gate, up in gate_up_proj: written with the last part
                folder.stored.put(e.getKey(), rounded(e.getValue(), dtype, false));
                String layer = e.getKey().substring(0, e.getKey().indexOf('.', 4) + 1);
                int shard = i++ % shards;
                if (e.getKey().endsWith("attn_v.weight") || e.getKey().endsWith("ffn_up.weight")) {
                    boolean qkv = e.getKey().endsWith("attn_v.weight");
                    String name = "model.layers." + layer.substring(4) + (qkv ? "self_attn.qkv_proj.weight" : "mlp.gate_up_proj.weight");
                    float[] fused = qkv ? concat(m.weights.get(layer + "attn_q.weight"), m.weights.get(layer + "attn_k.weight"),
                            e.getValue()) : concat(m.weights.get(layer + "ffn_gate.weight"), e.getValue());
                    add(writers.get(shard), dtype, name, fused, new long[] {fused.length / spec.dim(), spec.dim()});
                    weightMap.put(name, shardName(shard, shards));
                }
                continue;
            }
            // Gemma's RMSNorm multiplies by 1 + weight: the checkpoint holds the drawn norm weight less 1
            boolean shifted = gemma && e.getKey().endsWith("norm.weight");
            float[] v = e.getValue().clone();
            if (shifted) {
                for (int k = 0; k < v.length; k++) {
                    v[k] -= 1f;
                }
            }
            long[] shape = shapeOf(e.getKey(), v.length, spec);
            int shard = i++ % shards;
            SafetensorsWriter w = writers.get(shard);
            boolean mixtral = spec.arch().equals("llama");
            if (spec.arch().equals("granitemoe") && (e.getKey().contains("_exps.") || e.getKey().endsWith("ffn_gate_inp.weight"))) {
                graniteExperts(m, e.getKey(), v, w, dtype, folder);
                if (!e.getKey().contains("ffn_up_exps")) { // up is in input_linear, with gate
                    weightMap.put(graniteName(e.getKey()), shardName(shard, shards));
                }
                continue;
            }
            if (spec.experts() > 0 && hfExpertName(e.getKey(), mixtral, 0) != null) {
                // a mixture's tensor; the merged ones as one tensor per expert, as transformers keeps them
                boolean merged = e.getKey().endsWith("_exps.weight");
                int parts = merged ? spec.experts() : 1;
                long[] one = e.getKey().endsWith("ffn_gate_inp_shexp.weight") ? new long[] {1, v.length}
                        : e.getKey().endsWith("ffn_gate_inp.weight") ? new long[] {spec.experts(), spec.dim()}
                        : !merged ? shape
                        : e.getKey().endsWith("ffn_down_exps.weight") ? new long[] {spec.dim(), spec.hidden()}
                        : new long[] {spec.hidden(), spec.dim()};
                int size = v.length / parts;
                for (int x = 0; x < parts; x++) {
                    String part = hfExpertName(e.getKey(), mixtral, x);
                    add(w, dtype, part, java.util.Arrays.copyOfRange(v, x * size, (x + 1) * size), one);
                    weightMap.put(part, shardName(shard, shards));
                }
                folder.stored.put(e.getKey(), rounded(v, dtype, false));
                continue;
            }
            String name = hfName(e.getKey(), gemma);
            add(w, dtype, name, v, shape);
            folder.stored.put(e.getKey(), rounded(v, dtype, shifted));
            weightMap.put(name, shardName(shard, shards));
        }
        try {
            Files.createDirectories(dir);
            for (int s = 0; s < shards; s++) {
                writers.get(s).write(dir.resolve(shardName(s, shards)));
            }
            if (shards > 1) {
                ObjectNode index = JSON.createObjectNode();
                index.putObject("metadata").put("total_size", 0);
                index.set("weight_map", weightMap);
                JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(SafetensorsShards.INDEX).toFile(), index);
            }
            ObjectNode config = config(spec, dtype);
            if (phi3) { // the drawn LongRoPE divisors, as lists of numbers
                for (String kind : new String[] {"short", "long"}) {
                    com.fasterxml.jackson.databind.node.ArrayNode list = ((ObjectNode) config.get("rope_scaling")).putArray(kind + "_factor");
                    for (float f : m.weights.get("rope_factors_" + kind + ".weight")) {
                        list.add(f);
                    }
                }
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return folder;
    }

    /**
     * Makes a Gemma 3 text folder written by {@link #write} the checkpoint of a Gemma 3 model with vision
     * (Gemma3ForConditionalGeneration, as google/gemma-3-4b-it is saved): config.json's text model becomes its
     * {@code text_config} (less the keys transformers' Gemma3TextConfig defaults alike, and the dtype, which moves to the
     * whole model), the text model's tensors move under {@code language_model.} ({@code newLayout}: transformers
     * 4.52's {@code model.language_model.*}), and a vision tower's tensor joins them.
     */
    static void asGemma3WithVision(Path dir, boolean newLayout) {
        try {
            ObjectNode text = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
            text.remove(List.of("architectures", "rope_local_base_freq", "max_position_embeddings", "layer_types"));
            Map<String, Double> defaults = Map.of("num_attention_heads", 8.0, "num_key_value_heads", 4.0, "head_dim", 256.0,
                    "query_pre_attn_scalar", 256.0, "rms_norm_eps", 1e-6, "rope_theta", 1e6);
            defaults.forEach((key, value) -> {
                if (text.path(key).isNumber() && (float) text.path(key).asDouble() == value.floatValue()) {
                    text.remove(key);
                }
            });
            com.fasterxml.jackson.databind.JsonNode dtype = text.remove("torch_dtype");
            ObjectNode config = JSON.createObjectNode();
            config.putArray("architectures").add("Gemma3ForConditionalGeneration");
            config.put("model_type", "gemma3");
            config.set("text_config", text);
            config.putObject("vision_config").put("model_type", "siglip_vision_model").put("hidden_size", 8);
            config.set("torch_dtype", dtype);
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
            Path index = dir.resolve(SafetensorsShards.INDEX);
            ObjectNode weightMap = JSON.createObjectNode();
            List<Path> files;
            try (var listing = Files.list(dir)) {
                files = listing.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList();
            }
            for (Path file : files) {
                SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
                try (io.inferstream.runtime.safetensors.SafetensorsFile f = io.inferstream.runtime.safetensors.SafetensorsFile.open(file)) {
                    for (io.inferstream.runtime.safetensors.SafetensorsTensor t : f.tensors()) {
                        String name = t.name().equals("lm_head.weight") ? (newLayout ? t.name() : "language_model.lm_head.weight")
                                : newLayout ? "model.language_model." + t.name().substring("model.".length())
                                : "language_model." + t.name();
                        java.nio.ByteBuffer data = f.tensorData(t.name());
                        byte[] bytes = new byte[data.remaining()];
                        data.get(bytes);
                        w.add(name, t.dtype(), t.shape(), bytes);
                        weightMap.put(name, file.getFileName().toString());
                    }
                }
                if (file.equals(files.get(0))) {
                    w.addF32("vision_tower.vision_model.post_layernorm.weight", new float[] {1, 1, 1, 1, 1, 1, 1, 1}, 8);
                    weightMap.put("vision_tower.vision_model.post_layernorm.weight", file.getFileName().toString());
                }
                w.write(file);
            }
            if (Files.exists(index)) {
                ObjectNode written = JSON.createObjectNode();
                written.putObject("metadata").put("total_size", 0);
                written.set("weight_map", weightMap);
                JSON.writerWithDefaultPrettyPrinter().writeValue(index.toFile(), written);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** transformers' name of a Granite MoE tensor: the router, and the experts' two fused tensors. */
    private static String graniteName(String gguf) {
        String[] parts = gguf.split("\\.", 3);
        String p = "model.layers." + parts[1] + ".block_sparse_moe.";
        return p + switch (parts[2]) {
            case "ffn_gate_inp.weight" -> "router.layer.weight";
            case "ffn_down_exps.weight" -> "output_linear.weight";
            default -> "input_linear.weight";
        };
    }

    /**
     * GraniteMoeParallelExperts' layout: {@code input_linear} [experts, 2 · hidden, dim], each expert's gate rows then its up
     * rows, written when the gate tensor comes by (up is taken from the drawn weights then, and skipped when it comes);
     * {@code output_linear} [experts, dim, hidden]; the router [experts, dim].
     */
    private static void graniteExperts(RandomLlamaGguf m, String gguf, float[] v, SafetensorsWriter w, SafetensorsDtype dtype,
                                       RandomHfFolder folder) {
        RandomLlamaGguf.Spec spec = m.spec;
        int e = spec.experts();
        int h = spec.hidden();
        int dim = spec.dim();
        folder.stored.put(gguf, rounded(v, dtype, false));
        if (gguf.endsWith("ffn_gate_inp.weight")) {
            add(w, dtype, graniteName(gguf), v, new long[] {e, dim});
        } else if (gguf.endsWith("ffn_down_exps.weight")) {
            add(w, dtype, graniteName(gguf), v, new long[] {e, dim, h});
        } else if (gguf.endsWith("ffn_gate_exps.weight")) {
            float[] up = m.weights.get(gguf.replace("ffn_gate_exps", "ffn_up_exps"));
            float[] fused = new float[2 * v.length];
            for (int x = 0; x < e; x++) {
                System.arraycopy(v, x * h * dim, fused, 2 * x * h * dim, h * dim);
                System.arraycopy(up, x * h * dim, fused, (2 * x + 1) * h * dim, h * dim);
            }
            add(w, dtype, graniteName(gguf), fused, new long[] {e, 2L * h, dim});
        }
    }

    private static void add(SafetensorsWriter w, SafetensorsDtype dtype, String name, float[] v, long[] shape) {
        switch (dtype) {
            case BF16 -> w.addBf16(name, v, shape);
            case F16 -> w.addF16(name, v, shape);
            default -> w.addF32(name, v, shape);
        }
    }

    /** {@code v} as {@code dtype} stores it, widened to double, plus 1 where {@code shifted}. */
    private static double[] rounded(float[] v, SafetensorsDtype dtype, boolean shifted) {
        double[] kept = new double[v.length];
        for (int k = 0; k < v.length; k++) {
            kept[k] = switch (dtype) {
                case BF16 -> Float16.bf16ToFloat(SafetensorsWriter.toBf16(v[k]));
                case F16 -> Float16.toFloat(Float16.fromFloat(v[k]));
                default -> v[k];
            } + (shifted ? 1.0 : 0.0);
        }
        return kept;
    }

    private static float[] concat(float[]... parts) {
        int length = 0;
        for (float[] p : parts) {
            length += p.length;
        }
        float[] out = new float[length];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static String shardName(int shard, int shards) {
        return shards == 1 ? "model.safetensors"
                : String.format("model-%05d-of-%05d.safetensors", shard + 1, shards);
    }

    private static long[] shapeOf(String gguf, int elements, RandomLlamaGguf.Spec spec) {
        if (gguf.endsWith("norm.weight") || gguf.endsWith(".bias") || gguf.equals("rope_freqs.weight")) {
            return new long[] {elements};
        }
        int cols = gguf.endsWith("attn_output.weight") ? spec.heads() * spec.headDim()
                : gguf.endsWith("ffn_down.weight") ? spec.hidden() : spec.dim();
        return new long[] {elements / cols, cols};
    }

    /** config.json as transformers writes it for the spec's architecture. */
    static ObjectNode config(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype) {
        if (spec.arch().equals("gemma2") || spec.arch().equals("gemma3")) {
            return gemmaConfig(spec, dtype);
        }
        if (spec.arch().startsWith("granite")) {
            return graniteConfig(spec, dtype);
        }
        if (spec.experts() > 0) {
            return mixtureConfig(spec, dtype);
        }
        if (spec.arch().equals("phi3")) {
            return phi3Config(spec, dtype);
        }
        boolean qwen2 = spec.arch().equals("qwen2");
        boolean qwen3 = spec.arch().equals("qwen3");
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(qwen2 ? "Qwen2ForCausalLM" : qwen3 ? "Qwen3ForCausalLM" : "LlamaForCausalLM");
        c.put("model_type", qwen2 || qwen3 ? spec.arch() : "llama");
        putShape(c, spec);
        c.put("intermediate_size", spec.hidden());
        if (qwen3 || spec.headDim() != spec.dim() / spec.heads()) {
            c.put("head_dim", spec.headDim());
        }
        c.put("torch_dtype", dtype == SafetensorsDtype.BF16 ? "bfloat16" : dtype == SafetensorsDtype.F16 ? "float16" : "float32");
        if (qwen3) {
            c.put("attention_bias", false);
        }
        if (qwen2 || qwen3) {
            c.put("use_sliding_window", false);
            c.put("sliding_window", 4);
        }
        if (spec.llama3() != null) {
            ObjectNode s = c.putObject("rope_scaling");
            s.put("rope_type", "llama3");
            s.put("factor", spec.llama3().factor());
            s.put("low_freq_factor", spec.llama3().lowFreqFactor());
            s.put("high_freq_factor", spec.llama3().highFreqFactor());
            s.put("original_max_position_embeddings", spec.llama3().originalContextLength());
        }
        return c;
    }

    /** config.json of GraniteForCausalLM or GraniteMoeForCausalLM, with the spec's multipliers. */
    private static ObjectNode graniteConfig(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype) {
        boolean moe = spec.experts() > 0;
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(moe ? "GraniteMoeForCausalLM" : "GraniteForCausalLM");
        c.put("model_type", moe ? "granitemoe" : "granite");
        putShape(c, spec);
        c.put("intermediate_size", spec.hidden());
        c.put("embedding_multiplier", RandomLlamaGguf.GRANITE_EMBEDDING_SCALE);
        c.put("residual_multiplier", RandomLlamaGguf.GRANITE_RESIDUAL_SCALE);
        c.put("attention_multiplier", RandomLlamaGguf.GRANITE_ATTENTION_SCALE);
        c.put("logits_scaling", RandomLlamaGguf.GRANITE_LOGIT_SCALE);
        if (moe) {
            c.put("num_local_experts", spec.experts());
            c.put("num_experts_per_tok", RandomLlamaGguf.EXPERTS_USED);
        }
        c.put("torch_dtype", dtype == SafetensorsDtype.BF16 ? "bfloat16" : dtype == SafetensorsDtype.F16 ? "float16" : "float32");
        return c;
    }

    /**
     * config.json of Phi3ForCausalLM as Phi-3.5-mini's and Phi-4-mini's are written: LongRoPE (type longrope; write()
     * adds the factors the GGUF holds), a 4096-position
     * original context stretched 32 times (so transformers' attention factor is {@link RandomLlamaGguf#PHI3_ATTN_FACTOR}),
     * every layer's sliding window, the rotated share of a head as {@code partial_rotary_factor}.
     */
    private static ObjectNode phi3Config(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("Phi3ForCausalLM");
        c.put("model_type", "phi3");
        putShape(c, spec);
        c.put("intermediate_size", spec.hidden());
        c.put("max_position_embeddings", 131072);
        c.put("original_max_position_embeddings", 4096);
        c.put("sliding_window", RandomLlamaGguf.SLIDING_WINDOW);
        if (spec.rotated() != spec.headDim()) {
            c.put("partial_rotary_factor", spec.rotated() / (double) spec.headDim());
        }
        ObjectNode s = c.putObject("rope_scaling");
        s.put("type", "longrope");
        c.put("torch_dtype", dtype == SafetensorsDtype.BF16 ? "bfloat16" : dtype == SafetensorsDtype.F16 ? "float16" : "float32");
        return c;
    }

    /** The keys every SwiGLU family's config.json has alike. */
    private static void putShape(ObjectNode c, RandomLlamaGguf.Spec spec) {
        c.put("hidden_size", spec.dim());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        c.put("vocab_size", spec.vocab());
        c.put("max_position_embeddings", spec.context());
        c.put("rms_norm_eps", spec.eps());
        c.put("rope_theta", spec.theta());
        c.put("hidden_act", "silu");
        c.put("tie_word_embeddings", spec.tied());
    }

    /**
     * config.json of MixtralForCausalLM (a llama spec with experts), Qwen2MoeForCausalLM (its shared expert) or
     * Qwen3MoeForCausalLM (norm_topk_prob true, as Qwen3-30B-A3B's config sets it; a Qwen MoE's intermediate_size is a
     * dense layer's width, unused).
     */
    private static ObjectNode mixtureConfig(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype) {
        boolean mixtral = spec.arch().equals("llama");
        boolean qwen2 = spec.arch().equals("qwen2moe");
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(mixtral ? "MixtralForCausalLM" : qwen2 ? "Qwen2MoeForCausalLM" : "Qwen3MoeForCausalLM");
        c.put("model_type", mixtral ? "mixtral" : qwen2 ? "qwen2_moe" : "qwen3_moe");
        putShape(c, spec);
        c.put("head_dim", spec.headDim());
        c.put("num_experts_per_tok", RandomLlamaGguf.EXPERTS_USED);
        if (mixtral) {
            c.put("num_local_experts", spec.experts());
            c.put("intermediate_size", spec.hidden());
            c.putNull("sliding_window");
        } else {
            c.put("num_experts", spec.experts());
            c.put("moe_intermediate_size", spec.hidden());
            c.put("intermediate_size", 3 * spec.hidden());
            c.put("decoder_sparse_step", 1);
            c.putArray("mlp_only_layers");
            c.put("norm_topk_prob", !qwen2);
            c.put("use_sliding_window", false);
        }
        if (qwen2) {
            c.put("shared_expert_intermediate_size", RandomLlamaGguf.SHARED_HIDDEN);
        }
        c.put("torch_dtype", dtype == SafetensorsDtype.BF16 ? "bfloat16" : dtype == SafetensorsDtype.F16 ? "float16" : "float32");
        return c;
    }

    /**
     * config.json as transformers writes it for Gemma3ForCausalLM (the spec's window in layer_types, its linear RoPE
     * factor) or Gemma2ForCausalLM (an older config: no layer_types, the spec's soft caps).
     */
    private static ObjectNode gemmaConfig(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype) {
        boolean gemma2 = spec.arch().equals("gemma2");
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(gemma2 ? "Gemma2ForCausalLM" : "Gemma3ForCausalLM");
        c.put("model_type", gemma2 ? "gemma2" : "gemma3_text");
        c.put("hidden_size", spec.dim());
        c.put("intermediate_size", spec.hidden());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        c.put("head_dim", spec.headDim());
        c.put("query_pre_attn_scalar", spec.headDim());
        c.put("vocab_size", spec.vocab());
        c.put("max_position_embeddings", spec.context());
        c.put("rms_norm_eps", spec.eps());
        c.put("rope_theta", spec.theta());
        c.put("sliding_window", RandomLlamaGguf.SLIDING_WINDOW);
        c.put("hidden_activation", "gelu_pytorch_tanh");
        if (gemma2) {
            c.put("hidden_act", "gelu_pytorch_tanh");
            c.put("attn_logit_softcapping", RandomLlamaGguf.GEMMA2_ATTN_CAP);
            c.put("final_logit_softcapping", RandomLlamaGguf.GEMMA2_FINAL_CAP);
        } else {
            c.put("rope_local_base_freq", 10000.0);
            c.putObject("rope_scaling").put("rope_type", "linear").put("factor", RandomLlamaGguf.GEMMA3_LINEAR);
            var types = c.putArray("layer_types");
            for (int l = 0; l < spec.layers(); l++) {
                types.add((l + 1) % 6 == 0 ? "full_attention" : "sliding_attention");
            }
            c.putNull("final_logit_softcapping");
            c.putNull("attn_logit_softcapping");
        }
        c.put("tie_word_embeddings", true);
        c.put("torch_dtype", dtype == SafetensorsDtype.BF16 ? "bfloat16" : dtype == SafetensorsDtype.F16 ? "float16" : "float32");
        return c;
    }
}
