package io.inferstream.runtime.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import io.inferstream.runtime.tensor.Matrix;

/**
 * Reads a llama2.c checkpoint ({@code run.c} legacy format): seven little-endian int32 (dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size — negative when the classifier is not shared — and
 * seq_len), then fp32 weights in run.c's order. llama2.c rotates adjacent pairs with theta 10000 and
 * normalizes with eps 1e-5, which is exactly the GGUF "llama" architecture.
 */
public final class Llama2cLoader {

    private static final int HEADER_BYTES = 7 * Integer.BYTES;

    private Llama2cLoader() {
    }

    public static LlamaModel load(Path path) {
        ByteBuffer bytes;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llama2.c checkpoint " + path, e);
        }
        if (bytes.capacity() < HEADER_BYTES) {
            throw new IllegalArgumentException(path + ": " + bytes.capacity() + " bytes is too short for a llama2.c header");
        }
        int dim = bytes.getInt(0);
        int hidden = bytes.getInt(4);
        int layers = bytes.getInt(8);
        int heads = bytes.getInt(12);
        int kvHeads = bytes.getInt(16);
        int vocabField = bytes.getInt(20);
        int seqLen = bytes.getInt(24);
        boolean shared = vocabField > 0;
        int vocab = Math.abs(vocabField);
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0 || seqLen <= 0
                || dim % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(path + ": implausible llama2.c header (dim " + dim + ", hidden " + hidden
                    + ", layers " + layers + ", heads " + heads + ", kv heads " + kvHeads + ", vocab " + vocabField
                    + ", seq_len " + seqLen + ")");
        }
        int headDim = dim / heads;
        int kvDim = kvHeads * headDim;
        long floats = (long) vocab * dim + (long) layers * (2L * dim + 2L * dim * dim + 2L * dim * kvDim + 3L * dim * hidden)
                + dim + (long) seqLen * headDim + (shared ? 0 : (long) vocab * dim);
        long expected = HEADER_BYTES + floats * Float.BYTES;
        if (bytes.capacity() != expected) {
            throw new IllegalArgumentException(path + ": " + bytes.capacity() + " bytes, but the header ("
                    + dim + "/" + hidden + "/" + layers + "/" + heads + "/" + kvHeads + "/" + vocabField + "/" + seqLen
                    + ") implies " + expected);
        }
        FloatBuffer in = bytes.position(HEADER_BYTES).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();

        ModelConfig config = new ModelConfig("llama", dim, hidden, layers, heads, kvHeads, headDim, vocab, seqLen,
                1e-5f, 10000f, false, null);
        Matrix embedding = Matrix.ofF32(read(in, vocab * dim), vocab, dim);
        float[][] attnNorm = rows(in, layers, dim);
        Matrix[] wq = matrices(in, layers, dim, dim);
        Matrix[] wk = matrices(in, layers, kvDim, dim);
        Matrix[] wv = matrices(in, layers, kvDim, dim);
        Matrix[] wo = matrices(in, layers, dim, dim);
        float[][] ffnNorm = rows(in, layers, dim);
        Matrix[] w1 = matrices(in, layers, hidden, dim);
        Matrix[] w2 = matrices(in, layers, dim, hidden);
        Matrix[] w3 = matrices(in, layers, hidden, dim);
        float[] finalNorm = read(in, dim);
        in.position(in.position() + seqLen * headDim); // freq_cis_real and freq_cis_imag: RoPE is computed instead
        Matrix output = shared ? embedding : Matrix.ofF32(read(in, vocab * dim), vocab, dim);
        return new LlamaModel(config, new LlamaWeights(embedding, attnNorm, wq, wk, wv, wo, null, null, null, null, null,
                ffnNorm, w1, w3, w2, finalNorm, output, null));
    }

    private static float[] read(FloatBuffer in, int n) {
        float[] a = new float[n];
        in.get(a);
        return a;
    }

    private static float[][] rows(FloatBuffer in, int layers, int n) {
        float[][] a = new float[layers][];
        for (int l = 0; l < layers; l++) {
            a[l] = read(in, n);
        }
        return a;
    }

    private static Matrix[] matrices(FloatBuffer in, int layers, int rows, int cols) {
        Matrix[] m = new Matrix[layers];
        for (int l = 0; l < layers; l++) {
            m[l] = Matrix.ofF32(read(in, rows * cols), rows, cols);
        }
        return m;
    }
}
