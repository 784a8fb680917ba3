package io.inferstream.runtime.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.inferstream.runtime.safetensors.SafetensorsWriter;
import io.inferstream.runtime.tensor.Matrix;

/**
 * llama2.c's {@code export.py --version -1} (hf_export) in Java: a llama2.c checkpoint as a Hugging Face folder, Q and
 * K rows moved from Meta's adjacent RoPE pairs to transformers' rotate-half order ({@code permute_original}), weights
 * in {@code model.safetensors} instead of {@code pytorch_model.bin}.
 */
public final class Llama2cHfExport {

    private Llama2cHfExport() {
    }

    public static void export(Path checkpoint, Path tokenizerModel, Path dir) throws IOException {
        LlamaModel model = Llama2cLoader.load(checkpoint);
        ModelConfig c = model.config();
        LlamaWeights w = model.weights();
        SafetensorsWriter out = new SafetensorsWriter().putMetadata("format", "pt");
        out.addF32("model.embed_tokens.weight", floats(w.tokenEmbedding()), c.vocabSize(), c.dim());
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "model.layers." + l + ".";
            out.addF32(p + "input_layernorm.weight", w.attnNorm()[l], c.dim());
            out.addF32(p + "self_attn.q_proj.weight", toRotateHalf(w.wq()[l], c.nHeads()), c.nHeads() * c.headDim(), c.dim());
            out.addF32(p + "self_attn.k_proj.weight", toRotateHalf(w.wk()[l], c.nKvHeads()), c.kvDim(), c.dim());
            out.addF32(p + "self_attn.v_proj.weight", floats(w.wv()[l]), c.kvDim(), c.dim());
            out.addF32(p + "self_attn.o_proj.weight", floats(w.wo()[l]), c.dim(), c.nHeads() * c.headDim());
            out.addF32(p + "post_attention_layernorm.weight", w.ffnNorm()[l], c.dim());
            out.addF32(p + "mlp.gate_proj.weight", floats(w.gate()[l]), c.hiddenDim(), c.dim());
            out.addF32(p + "mlp.up_proj.weight", floats(w.up()[l]), c.hiddenDim(), c.dim());
            out.addF32(p + "mlp.down_proj.weight", floats(w.down()[l]), c.dim(), c.hiddenDim());
        }
        out.addF32("model.norm.weight", w.outputNorm(), c.dim());
        Files.createDirectories(dir);
        out.write(dir.resolve("model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = json.createObjectNode(); // export.py's LlamaConfig, shared classifier: tied
        config.putArray("architectures").add("LlamaForCausalLM");
        config.put("model_type", "llama");
        config.put("hidden_size", c.dim());
        config.put("intermediate_size", c.hiddenDim());
        config.put("num_hidden_layers", c.nLayers());
        config.put("num_attention_heads", c.nHeads());
        config.put("num_key_value_heads", c.nKvHeads());
        config.put("vocab_size", c.vocabSize());
        config.put("max_position_embeddings", c.contextLength());
        config.put("rms_norm_eps", 1e-5);
        config.put("tie_word_embeddings", true);
        config.put("torch_dtype", "float32");
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        Files.copy(tokenizerModel, dir.resolve("tokenizer.model"));
    }

    private static float[] floats(Matrix m) {
        float[] out = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.dequantizeRow(r, out, r * m.cols());
        }
        return out;
    }

    /** Meta's row {@code 2i + c} of a head becomes transformers' row {@code c * headDim/2 + i}. */
    private static float[] toRotateHalf(Matrix m, int heads) {
        float[] meta = floats(m);
        int cols = m.cols();
        int hd = m.rows() / heads;
        float[] hf = new float[meta.length];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < hd / 2; i++) {
                for (int c = 0; c < 2; c++) {
                    System.arraycopy(meta, (h * hd + 2 * i + c) * cols, hf, (h * hd + c * (hd / 2) + i) * cols, cols);
                }
            }
        }
        return hf;
    }
}
