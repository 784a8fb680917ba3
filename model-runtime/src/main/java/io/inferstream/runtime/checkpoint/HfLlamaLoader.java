package io.inferstream.runtime.checkpoint;

import java.util.Arrays;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LlamaModel;
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
final class HfLlamaLoader {

    private final HfConfig hf;
    private final SafetensorsShards shards;

    private HfLlamaLoader(HfConfig hf, SafetensorsShards shards) {
        this.hf = hf;
        this.shards = shards;
    }

    static LlamaModel load(HfConfig hf, SafetensorsShards shards) {
        return new LlamaModel(hf.model(), new HfLlamaLoader(hf, shards).weights());
    }

    private LlamaWeights weights() {
        ModelConfig c = hf.model();
        int layers = c.nLayers();
        int qDim = c.nHeads() * c.headDim();
        int kvDim = c.kvDim();
        Matrix[] wq = new Matrix[layers];
        Matrix[] wk = new Matrix[layers];
        Matrix[] wv = new Matrix[layers];
        Matrix[] wo = new Matrix[layers];
        Matrix[] gate = new Matrix[layers];
        Matrix[] up = new Matrix[layers];
        Matrix[] down = new Matrix[layers];
        float[][] attnNorm = new float[layers][];
        float[][] ffnNorm = new float[layers][];
        float[][] bq = hf.qkvBias() ? new float[layers][] : null;
        float[][] bk = hf.qkvBias() ? new float[layers][] : null;
        float[][] bv = hf.qkvBias() ? new float[layers][] : null;
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            attnNorm[l] = vector(p + "input_layernorm.weight", c.dim());
            wq[l] = matrix(p + "self_attn.q_proj.weight", qDim, c.dim());
            wk[l] = matrix(p + "self_attn.k_proj.weight", kvDim, c.dim());
            wv[l] = matrix(p + "self_attn.v_proj.weight", kvDim, c.dim());
            wo[l] = matrix(p + "self_attn.o_proj.weight", c.dim(), qDim);
            if (hf.qkvBias()) {
                bq[l] = vector(p + "self_attn.q_proj.bias", qDim);
                bk[l] = vector(p + "self_attn.k_proj.bias", kvDim);
                bv[l] = vector(p + "self_attn.v_proj.bias", kvDim);
            }
            if (shards.hasTensor(p + "self_attn.o_proj.bias")) {
                throw new IllegalArgumentException(shards.fileOf(p + "self_attn.o_proj.bias").path() + ": tensor " + p
                        + "self_attn.o_proj.bias: an output-projection bias (attention_bias in a llama config) is not supported");
            }
            ffnNorm[l] = vector(p + "post_attention_layernorm.weight", c.dim());
            gate[l] = matrix(p + "mlp.gate_proj.weight", c.hiddenDim(), c.dim());
            up[l] = matrix(p + "mlp.up_proj.weight", c.hiddenDim(), c.dim());
            down[l] = matrix(p + "mlp.down_proj.weight", c.dim(), c.hiddenDim());
        }
        Matrix embedding = matrix("model.embed_tokens.weight", c.vocabSize(), c.dim());
        Matrix output;
        if (shards.hasTensor("lm_head.weight")) {
            output = matrix("lm_head.weight", c.vocabSize(), c.dim());
        } else if (hf.tiedEmbeddings()) {
            output = embedding;
        } else {
            throw new IllegalArgumentException(shards.folder() + ": tensor lm_head.weight is missing and "
                    + hf.file().getFileName() + " does not set tie_word_embeddings");
        }
        return new LlamaWeights(embedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, ffnNorm, gate, up, down,
                vector("model.norm.weight", c.dim()), output, null);
    }

    /** A weight matrix stored [rows, cols]: a Linear's [out_features, in_features]. */
    private Matrix matrix(String name, int rows, int cols) {
        SafetensorsTensor t = tensor(name, new long[] {rows, cols});
        return Matrix.of(type(t), shards.tensorData(name), rows, cols, name);
    }

    /** A norm weight or bias, as floats. */
    private float[] vector(String name, int length) {
        SafetensorsTensor t = tensor(name, new long[] {length});
        float[] out = new float[length];
        Matrix.of(type(t), shards.tensorData(name), 1, length, name).dequantizeRow(0, out, 0);
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
