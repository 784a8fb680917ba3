package io.inferstream.runtime.model;

import java.util.Locale;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufTensorInfo;
import io.inferstream.runtime.tensor.Matrix;

/**
 * Reads a llama / qwen2 / qwen3 GGUF the way llama.cpp does: hyper-parameters from {@code <arch>.*} keys,
 * tensors by their llama.cpp names, the output matrix falling back to the token embedding when the
 * model ties them.
 */
final class GgufLlamaLoader implements LlamaTensors {

    private final GgufFile gguf;
    private final String arch;

    private GgufLlamaLoader(GgufFile gguf) {
        this.gguf = gguf;
        this.arch = gguf.getString("general.architecture", "");
    }

    static LlamaModel load(GgufFile gguf) {
        GgufLlamaLoader loader = new GgufLlamaLoader(gguf);
        ModelConfig config = loader.config();
        return new LlamaModel(config, loader.weights(config));
    }

    /** The configuration of a GGUF model, without loading its weights. */
    static ModelConfig config(GgufFile gguf) {
        return new GgufLlamaLoader(gguf).config();
    }

    private ModelConfig config() {
        if (!arch.equals("llama") && !arch.equals("qwen2") && !arch.equals("qwen3")) {
            throw new IllegalArgumentException(gguf.path() + ": general.architecture is '" + arch
                    + "'; supported are llama (Llama 2/3, TinyLlama, SmolLM, Mistral), qwen2 (Qwen2, Qwen2.5) and qwen3");
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
        if (ropeDim != headDim) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".rope.dimension_count is " + ropeDim
                    + " but heads are " + headDim + " wide; partial rotary embeddings are not supported");
        }
        int vocab = (int) tensor("token_embd.weight").ne(1);
        return new ModelConfig(arch, dim, requireInt("feed_forward_length"), requireInt("block_count"), nHeads, nKvHeads,
                headDim, vocab, gguf.getInt(arch + ".context_length", 2048),
                gguf.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f),
                gguf.getFloat(arch + ".rope.freq_base", 10000f),
                !arch.equals("llama"), ropeScaling()); // llama.cpp: LLAMA_ROPE_TYPE_NEOX for qwen2 and qwen3
    }

    /** Llama 3.1 scaling from {@code <arch>.rope.scaling.*}; null when absent or "none". */
    private ModelConfig.RopeScaling ropeScaling() {
        String type = gguf.getString(arch + ".rope.scaling.type", "none").toLowerCase(Locale.ROOT);
        if (type.equals("none")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + ".rope.scaling.type '" + type
                    + "' is not supported (supported: none, llama3)");
        }
        return new ModelConfig.RopeScaling(
                gguf.getFloat(arch + ".rope.scaling.factor", 8f),
                gguf.getFloat(arch + ".rope.scaling.low_freq_factor", 1f),
                gguf.getFloat(arch + ".rope.scaling.high_freq_factor", 4f),
                gguf.getInt(arch + ".rope.scaling.original_context_length", 8192));
    }

    private LlamaWeights weights(ModelConfig c) {
        float[] ropeFactors = gguf.hasTensor("rope_freqs.weight") ? vector("rope_freqs.weight", c.headDim() / 2) : null;
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
            case FFN_NORM -> p + "ffn_norm.weight";
            case GATE -> p + "ffn_gate.weight";
            case UP -> p + "ffn_up.weight";
            case DOWN -> p + "ffn_down.weight";
            case OUTPUT_NORM -> "output_norm.weight";
            case OUTPUT -> "output.weight";
        };
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

    /** A weight matrix of ne = [cols, rows] (GGUF lists the contiguous dimension first). */
    @Override
    public Matrix matrix(String name, int rows, int cols) {
        GgufTensorInfo t = tensor(name);
        if (t.dims() != 2 || t.ne(0) != cols || t.ne(1) != rows) {
            throw new IllegalArgumentException(gguf.path() + ": tensor " + name + " has shape "
                    + java.util.Arrays.toString(t.shape()) + ", expected [" + cols + ", " + rows + "]");
        }
        return Matrix.of(t.type(), gguf.tensorData(name), rows, cols, name);
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
