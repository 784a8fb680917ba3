package io.inferstream.runtime.model;

import io.inferstream.runtime.tensor.Matrix;

/**
 * Where a checkpoint format keeps each tensor of a Llama-family model. GGUF and transformers name them differently
 * and store their shapes in different orders; the roles and the shapes are the model's, so one loop ({@link #read})
 * reads every format.
 */
public interface LlamaTensors {

    /** What a tensor is for; the per-layer roles are read once for every layer. */
    enum Role {
        TOKEN_EMBEDDING, ATTN_NORM, WQ, WK, WV, WO, BQ, BK, BV, Q_NORM, K_NORM, POST_ATTN_NORM, FFN_NORM, GATE, UP, DOWN,
        POST_FFN_NORM, OUTPUT_NORM, OUTPUT
    }

    /** The file's name for {@code role}'s tensor ({@code layer} is ignored for the whole-model roles). */
    String name(Role role, int layer);

    boolean has(String name);

    /** A weight matrix of [rows = outputs, cols = inputs]; throws naming the file and the tensor when missing or misshapen. */
    Matrix matrix(String name, int rows, int cols);

    /** A norm weight or bias of {@code length} elements, as floats. */
    float[] vector(String name, int length);

    /**
     * Reads the whole model: biases on Q/K/V when {@code biases}; the per-head Q/K norm weights when the config has
     * them ({@link ModelConfig#qkNorm}); the post-norms when the block has them ({@link BlockOptions#postNorms}); the output matrix from {@link Role#OUTPUT}, or the
     * token embedding when the file has none; {@code ropeFactors} as the file gives them (or null).
     */
    static LlamaWeights read(ModelConfig c, LlamaTensors t, boolean biases, float[] ropeFactors) {
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
        float[][] bq = biases ? new float[layers][] : null;
        float[][] bk = biases ? new float[layers][] : null;
        float[][] bv = biases ? new float[layers][] : null;
        float[][] qNorm = c.qkNorm() ? new float[layers][] : null;
        float[][] kNorm = c.qkNorm() ? new float[layers][] : null;
        boolean post = c.block().postNorms();
        float[][] postAttnNorm = post ? new float[layers][] : null;
        float[][] postFfnNorm = post ? new float[layers][] : null;
        for (int l = 0; l < layers; l++) {
            attnNorm[l] = t.vector(t.name(Role.ATTN_NORM, l), c.dim());
            wq[l] = t.matrix(t.name(Role.WQ, l), qDim, c.dim());
            wk[l] = t.matrix(t.name(Role.WK, l), kvDim, c.dim());
            wv[l] = t.matrix(t.name(Role.WV, l), kvDim, c.dim());
            wo[l] = t.matrix(t.name(Role.WO, l), c.dim(), qDim);
            if (biases) {
                bq[l] = t.vector(t.name(Role.BQ, l), qDim);
                bk[l] = t.vector(t.name(Role.BK, l), kvDim);
                bv[l] = t.vector(t.name(Role.BV, l), kvDim);
            }
            if (c.qkNorm()) {
                qNorm[l] = t.vector(t.name(Role.Q_NORM, l), c.headDim());
                kNorm[l] = t.vector(t.name(Role.K_NORM, l), c.headDim());
            }
            if (post) {
                postAttnNorm[l] = t.vector(t.name(Role.POST_ATTN_NORM, l), c.dim());
                postFfnNorm[l] = t.vector(t.name(Role.POST_FFN_NORM, l), c.dim());
            }
            ffnNorm[l] = t.vector(t.name(Role.FFN_NORM, l), c.dim());
            gate[l] = t.matrix(t.name(Role.GATE, l), c.hiddenDim(), c.dim());
            up[l] = t.matrix(t.name(Role.UP, l), c.hiddenDim(), c.dim());
            down[l] = t.matrix(t.name(Role.DOWN, l), c.dim(), c.hiddenDim());
        }
        Matrix embedding = t.matrix(t.name(Role.TOKEN_EMBEDDING, 0), c.vocabSize(), c.dim());
        String outputName = t.name(Role.OUTPUT, 0);
        Matrix output = t.has(outputName) ? t.matrix(outputName, c.vocabSize(), c.dim()) : embedding;
        return new LlamaWeights(embedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm, ffnNorm, gate, up, down,
                t.vector(t.name(Role.OUTPUT_NORM, 0), c.dim()), output, ropeFactors, postAttnNorm, postFfnNorm);
    }
}
