package io.inferstream.runtime.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.tensor.Matrix;
import io.inferstream.runtime.tensor.WorkerPool;

/**
 * Weights re-encoded when the model loads ({@code --quantize}): every float matrix (F32, F16, BF16) becomes Q8_0 or
 * Q4_0, row by row, with llama.cpp's reference quantizers ({@link Quantizer}, bit-exact with {@code quantize_row_q8_0_ref}
 * and {@code quantize_row_q4_0_ref}). So a Hugging Face BF16 folder runs as the GGUF that llama.cpp's converter and
 * {@code llama-quantize} would make of it: a little over half the memory, and the faster kernels of the quantized types.
 * Matrices already quantized keep their type; norms and biases stay float, as llama.cpp keeps them; so does a matrix whose
 * rows are not whole blocks (stories260K's feed-forward width of 172), which llama-quantize would refuse.
 */
public final class LoadTimeQuantization {

    /** The types a model may be quantized to at load. */
    public static final List<GgmlType> TARGETS = List.of(GgmlType.Q8_0, GgmlType.Q4_0);

    private LoadTimeQuantization() {
    }

    /** The type named by a {@code --quantize} value ("none" or empty: null); a clear error for anything else. */
    public static GgmlType parse(String value) {
        if (value == null || value.isBlank() || value.equalsIgnoreCase("none")) {
            return null;
        }
        for (GgmlType t : TARGETS) {
            if (t.name().equalsIgnoreCase(value.trim())) {
                return t;
            }
        }
        throw new IllegalArgumentException("--quantize " + value + ": expected none, "
                + String.join(", ", TARGETS.stream().map(t -> t.name().toLowerCase(Locale.ROOT)).toList()));
    }

    /** {@code model} with its float matrices in {@code target}, or {@code model} itself when target is null. */
    public static LlamaModel apply(LlamaModel model, GgmlType target) {
        return target == null ? model : new LlamaModel(model.config(), apply(model.weights(), target));
    }

    /** The weights with every F32/F16/BF16 matrix re-encoded as {@code target}; a tied output stays the embedding. */
    public static LlamaWeights apply(LlamaWeights w, GgmlType target) {
        if (!TARGETS.contains(target)) {
            throw new IllegalArgumentException("cannot quantize weights to " + target + " at load; supported: " + TARGETS);
        }
        Map<Matrix, Matrix> done = new IdentityHashMap<>(); // the tied output is the embedding's own matrix
        UnaryOperator<Matrix> q = m -> done.computeIfAbsent(m, x -> quantize(x, target));
        return new LlamaWeights(q.apply(w.tokenEmbedding()), w.attnNorm(), all(w.wq(), q), all(w.wk(), q), all(w.wv(), q),
                all(w.wo(), q), w.bq(), w.bk(), w.bv(), w.qNorm(), w.kNorm(), w.ffnNorm(), all(w.gate(), q), all(w.up(), q),
                all(w.down(), q), w.outputNorm(), q.apply(w.output()), w.ropeFactors(), w.postAttnNorm(), w.postFfnNorm(),
                experts(w.experts(), q));
    }

    /** Every expert's matrices; the routers stay as they are, as llama-quantize keeps ffn_gate_inp. */
    private static ExpertWeights[] experts(ExpertWeights[] layers, UnaryOperator<Matrix> q) {
        if (layers == null) {
            return null;
        }
        ExpertWeights[] out = new ExpertWeights[layers.length];
        for (int l = 0; l < layers.length; l++) {
            ExpertWeights e = layers[l];
            out[l] = new ExpertWeights(e.router(), all(e.gate(), q), all(e.up(), q), all(e.down(), q),
                    e.sharedGate() == null ? null : q.apply(e.sharedGate()), e.sharedUp() == null ? null : q.apply(e.sharedUp()),
                    e.sharedDown() == null ? null : q.apply(e.sharedDown()), e.sharedRouter());
        }
        return out;
    }

    /** Each matrix quantized; null (a mixture model's dense roles) stays null. */
    private static Matrix[] all(Matrix[] layers, UnaryOperator<Matrix> q) {
        if (layers == null) {
            return null;
        }
        Matrix[] out = new Matrix[layers.length];
        for (int l = 0; l < layers.length; l++) {
            out[l] = layers[l] == null ? null : q.apply(layers[l]);
        }
        return out;
    }

    /**
     * One matrix, its rows spread over the worker pool; unchanged when its type is not a float type or its rows are not
     * whole blocks of {@code target}.
     */
    static Matrix quantize(Matrix m, GgmlType target) {
        GgmlType from = m.type();
        int rows = m.rows();
        int cols = m.cols();
        if ((from != GgmlType.F32 && from != GgmlType.F16 && from != GgmlType.BF16) || cols % target.blockSize() != 0) {
            return m;
        }
        int rowBytes = Math.toIntExact(target.bytesFor(cols));
        byte[] bytes = new byte[Math.toIntExact((long) rowBytes * rows)];
        int chunk = 64;
        WorkerPool.parallelFor(0, (rows + chunk - 1) / chunk, c -> {
            float[] row = new float[cols];
            for (int r = c * chunk; r < Math.min(rows, (c + 1) * chunk); r++) {
                m.dequantizeRow(r, row, 0);
                System.arraycopy(Quantizer.quantize(target, row), 0, bytes, r * rowBytes, rowBytes);
            }
        });
        return Matrix.of(target, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN), rows, cols, m.name());
    }
}
