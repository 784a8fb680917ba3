package io.inferstream.runtime.checkpoint;

import java.util.Arrays;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.LlamaTensors;
import io.inferstream.runtime.model.LlamaWeights;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.safetensors.SafetensorsDtype;
import io.inferstream.runtime.safetensors.SafetensorsShards;
import io.inferstream.runtime.safetensors.SafetensorsTensor;
import io.inferstream.runtime.tensor.Matrix;

/**
 * Reads a Llama-family model from safetensors the way transformers lays it out: tensors by their
 * {@code model.layers.N.*} names, weights [out, in] row-major (so a Linear's weight is our [rows, cols] as is), and
 * Q/K rows in the rotate-half order that the config's NeoX RoPE expects (llama.cpp's converter permutes them into
 * adjacent pairs instead; here they stay as stored). F32, F16 and BF16 weights keep their type: each is read from
 * its memory-mapped shard into the same matrix classes a GGUF of that type gives.
 */
final class HfLlamaLoader implements LlamaTensors {

    private static final java.util.regex.Pattern LAYER = java.util.regex.Pattern.compile("(model\\.layers\\.\\d+\\.)(.+)");

    private final HfConfig hf;
    private final SafetensorsShards shards;
    /** Where the text model's {@code model.*} tensors are: "model." but in a model with vision. */
    private final String textModel;
    /** Its {@code lm_head.weight}. */
    private final String lmHead;

    private HfLlamaLoader(HfConfig hf, SafetensorsShards shards) {
        this.hf = hf;
        this.shards = shards;
        if (!hf.modelType().equals("gemma3")) {
            textModel = "model.";
            lmHead = "lm_head.weight";
        } else if (shards.hasTensor("language_model.model.embed_tokens.weight")) { // as google/gemma-3-*-it were saved
            textModel = "language_model.model.";
            lmHead = "language_model.lm_head.weight";
        } else if (shards.hasTensor("model.language_model.embed_tokens.weight")) { // as transformers 4.52+ saves them
            textModel = "model.language_model.";
            lmHead = "lm_head.weight";
        } else {
            throw new IllegalArgumentException(shards.folder() + ": a Gemma 3 model with vision (model_type gemma3) needs its"
                    + " text model's tensors as language_model.model.* or model.language_model.*; found neither"
                    + " language_model.model.embed_tokens.weight nor model.language_model.embed_tokens.weight");
        }
    }

    /** A transformers name of the text model ({@code model.*}, {@code lm_head.weight}) as this checkpoint stores it. */
    private String stored(String name) {
        return name.equals("lm_head.weight") ? lmHead : name.startsWith("model.") ? textModel + name.substring(6) : name;
    }

    static LlamaModel load(HfConfig hf, SafetensorsShards shards) {
        return new LlamaModel(hf.model(), new HfLlamaLoader(hf, shards).weights());
    }

    private LlamaWeights weights() {
        ModelConfig c = hf.model();
        for (int l = 0; l < c.nLayers(); l++) {
            String oBias = stored("model.layers." + l + ".self_attn.o_proj.bias");
            if (shards.hasTensor(oBias)) {
                throw new IllegalArgumentException(shards.fileOf(oBias).path() + ": tensor " + oBias
                        + ": an output-projection bias (attention_bias in a llama config) is not supported");
            }
        }
        if (!shards.hasTensor(lmHead) && !hf.tiedEmbeddings()) {
            throw new IllegalArgumentException(shards.folder() + ": tensor " + lmHead + " is missing and "
                    + hf.file().getFileName() + " does not set tie_word_embeddings");
        }
        return LlamaTensors.read(c, this, hf.qkvBias(), hf.ropeFactors());
    }

    @Override
    public String name(Role role, int layer) {
        return stored(transformersName(role, layer));
    }

    /** The tensor's name in a text model's checkpoint. */
    private String transformersName(Role role, int layer) {
        String p = "model.layers." + layer + ".";
        boolean mixtral = hf.modelType().equals("mixtral");
        String mixture = switch (role) { // MixtralSparseMoeBlock; Qwen2MoeSparseMoeBlock and Qwen3MoeSparseMoeBlock
            case ROUTER -> hf.modelType().equals("granitemoe") ? "block_sparse_moe.router.layer.weight"
                    : mixtral ? "block_sparse_moe.gate.weight" : "mlp.gate.weight";
            case SHARED_GATE -> "mlp.shared_expert.gate_proj.weight";
            case SHARED_UP -> "mlp.shared_expert.up_proj.weight";
            case SHARED_DOWN -> "mlp.shared_expert.down_proj.weight";
            case SHARED_ROUTER -> "mlp.shared_expert_gate.weight";
            default -> null;
        };
        if (mixture != null) {
            return p + mixture;
        }
        if (gemma()) { // Gemma3DecoderLayer: four norms, the second after attention, the third before the MLP
            switch (role) {
                case POST_ATTN_NORM:
                    return p + "post_attention_layernorm.weight";
                case FFN_NORM:
                    return p + "pre_feedforward_layernorm.weight";
                case POST_FFN_NORM:
                    return p + "post_feedforward_layernorm.weight";
                default:
                    break;
            }
        }
        return hfName(role, layer);
    }

    private boolean gemma() {
        return hf.model().architecture().startsWith("gemma");
    }

    @Override
    public boolean has(String name) {
        return shards.hasTensor(name);
    }

    /** transformers' tensor names (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM; Gemma3ForCausalLM's but its norms). */
    static String hfName(Role role, int layer) {
        String p = "model.layers." + layer + ".";
        return switch (role) {
            case TOKEN_EMBEDDING -> "model.embed_tokens.weight";
            // a mixture's (name() gives them)
            case ROUTER, EXPERT_GATE, EXPERT_UP, EXPERT_DOWN, SHARED_GATE, SHARED_UP, SHARED_DOWN, SHARED_ROUTER ->
                    throw new IllegalArgumentException("no " + role + " in a dense checkpoint");
            case ATTN_NORM -> p + "input_layernorm.weight";
            case WQ -> p + "self_attn.q_proj.weight";
            case WK -> p + "self_attn.k_proj.weight";
            case WV -> p + "self_attn.v_proj.weight";
            case WO -> p + "self_attn.o_proj.weight";
            case BQ -> p + "self_attn.q_proj.bias";
            case BK -> p + "self_attn.k_proj.bias";
            case BV -> p + "self_attn.v_proj.bias";
            case Q_NORM -> p + "self_attn.q_norm.weight";
            case K_NORM -> p + "self_attn.k_norm.weight";
            case FFN_NORM -> p + "post_attention_layernorm.weight";
            case GATE -> p + "mlp.gate_proj.weight";
            case UP -> p + "mlp.up_proj.weight";
            case DOWN -> p + "mlp.down_proj.weight";
            case OUTPUT_NORM -> "model.norm.weight";
            case OUTPUT -> "lm_head.weight";
            // Gemma's only (name() gives them)
            case POST_ATTN_NORM, POST_FFN_NORM -> throw new IllegalArgumentException("no " + role + " in a Llama-family checkpoint");
        };
    }

    /** Expert {@code expert}'s Linear: Mixtral's w1 (gate), w3 (up), w2 (down); the Qwen MoEs' gate_proj, up_proj, down_proj. */
    @Override
    public Matrix expert(Role role, int layer, int expert, int rows, int cols) {
        if (hf.modelType().equals("granitemoe")) {
            return graniteExpert(role, layer, expert, rows, cols);
        }
        boolean mixtral = hf.modelType().equals("mixtral");
        String p = "model.layers." + layer + (mixtral ? ".block_sparse_moe.experts." : ".mlp.experts.") + expert + ".";
        String name = switch (role) {
            case EXPERT_GATE -> mixtral ? "w1" : "gate_proj";
            case EXPERT_UP -> mixtral ? "w3" : "up_proj";
            case EXPERT_DOWN -> mixtral ? "w2" : "down_proj";
            default -> throw new IllegalArgumentException(role + " is not an expert's matrix");
        };
        return matrix(p + name + ".weight", rows, cols);
    }

    /**
     * GraniteMoeParallelExperts keeps a layer's experts in two tensors: {@code input_linear} [experts, 2 · hidden, dim],
     * each expert's gate rows then its up rows (transformers chunks the product in two, gate first), and
     * {@code output_linear} [experts, dim, hidden]. Expert e's matrix is a view of its rows.
     */
    private Matrix graniteExpert(Role role, int layer, int expert, int rows, int cols) {
        String p = "model.layers." + layer + ".block_sparse_moe.";
        int count = hf.model().block().experts().count();
        boolean down = role == Role.EXPERT_DOWN;
        String name = p + (down ? "output_linear.weight" : "input_linear.weight");
        SafetensorsTensor t = tensor(name, down ? new long[] {count, rows, cols} : new long[] {count, 2L * rows, cols});
        long first = down ? (long) expert * rows : (long) expert * 2 * rows + (role == Role.EXPERT_UP ? rows : 0);
        return rows(name, type(t), first, rows, cols, name + "[" + expert + (down ? "" : role == Role.EXPERT_UP ? ", up" : ", gate") + "]");
    }

    /**
     * A weight matrix stored [rows, cols]: a Linear's [out_features, in_features]; or, in a Phi-3 checkpoint, its rows
     * of the fused tensor that holds it (Phi3Attention's qkv_proj: Q, K, V rows; Phi3MLP's gate_up_proj: gate rows,
     * then up rows, as transformers chunks the product).
     */
    @Override
    public Matrix matrix(String name, int rows, int cols) {
        java.util.regex.Matcher m = LAYER.matcher(name);
        if (hf.modelType().equals("phi3") && !shards.hasTensor(name) && m.matches()) {
            String layer = m.group(1);
            String part = m.group(2);
            ModelConfig c = hf.model();
            int q = c.nHeads() * c.headDim();
            switch (part) {
                case "self_attn.q_proj.weight": return rowsOf(layer + "self_attn.qkv_proj.weight", q + 2 * c.kvDim(), 0, rows, cols);
                case "self_attn.k_proj.weight": return rowsOf(layer + "self_attn.qkv_proj.weight", q + 2 * c.kvDim(), q, rows, cols);
                case "self_attn.v_proj.weight":
                    return rowsOf(layer + "self_attn.qkv_proj.weight", q + 2 * c.kvDim(), q + c.kvDim(), rows, cols);
                case "mlp.gate_proj.weight": return rowsOf(layer + "mlp.gate_up_proj.weight", 2 * rows, 0, rows, cols);
                case "mlp.up_proj.weight": return rowsOf(layer + "mlp.gate_up_proj.weight", 2 * rows, rows, rows, cols);
                default: break;
            }
        }
        SafetensorsTensor t = tensor(name, new long[] {rows, cols});
        return Matrix.of(type(t), shards.tensorData(name), rows, cols, name);
    }

    /** Rows [first, first + rows) of fused tensor {@code name} [totalRows, cols], a view named {@code name[first..]}. */
    private Matrix rowsOf(String name, int totalRows, int first, int rows, int cols) {
        SafetensorsTensor t = tensor(name, new long[] {totalRows, cols});
        return rows(name, type(t), (long) first, rows, cols, new io.inferstream.runtime.model.RowView(name, first, first + rows).name());
    }

    /** {@code rows} rows from row {@code first} of tensor {@code name}'s data, of {@code cols} values of {@code type}. */
    private Matrix rows(String name, GgmlType type, long first, int rows, int cols, String label) {
        long rowBytes = type.bytesFor(cols);
        java.nio.ByteBuffer data = shards.tensorData(name);
        java.nio.ByteBuffer part = data.slice(data.position() + Math.toIntExact(first * rowBytes), Math.toIntExact(rows * rowBytes))
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return Matrix.of(type, part, rows, cols, label);
    }

    /**
     * A norm weight or bias, as floats. Gemma's RMSNorm multiplies by 1 + weight: its norm weights get the 1 here, as
     * llama.cpp's converter adds it, so the forward pass's norm is Llama's.
     */
    @Override
    public float[] vector(String name, int length) {
        // Qwen2-MoE's shared-expert gate is a Linear of one output: [1, hidden]
        SafetensorsTensor t = tensor(name, name.endsWith("shared_expert_gate.weight") ? new long[] {1, length} : new long[] {length});
        float[] out = new float[length];
        Matrix.of(type(t), shards.tensorData(name), 1, length, name).dequantizeRow(0, out, 0);
        if (gemma() && name.endsWith("norm.weight")) {
            for (int i = 0; i < length; i++) {
                out[i] += 1f;
            }
        }
        return out;
    }

    private SafetensorsTensor tensor(String name, long[] shape) {
        if (!shards.hasTensor(name)) {
            throw new IllegalArgumentException(shards.folder() + ": tensor " + name + " is missing (expected shape "
                    + Arrays.toString(shape) + ")");
        }
        SafetensorsTensor t = shards.tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(shards.fileOf(name).path() + ": tensor " + name + " has shape "
                    + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape) + " from " + hf.file().getFileName());
        }
        return t;
    }

    private GgmlType type(SafetensorsTensor t) {
        SafetensorsDtype d = t.dtype();
        return d.ggmlType().orElseThrow(() -> new IllegalArgumentException(shards.fileOf(t.name()).path() + ": tensor "
                + t.name() + " is " + d + "; weights must be F32, F16 or BF16"));
    }
}
