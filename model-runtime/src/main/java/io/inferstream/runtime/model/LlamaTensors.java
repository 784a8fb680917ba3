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
        POST_FFN_NORM, OUTPUT_NORM, OUTPUT,
        /** A mixture of experts' router [count, dim] and experts; the shared expert and its sigmoid gate vector [dim]. */
        ROUTER, EXPERT_GATE, EXPERT_UP, EXPERT_DOWN, SHARED_GATE, SHARED_UP, SHARED_DOWN, SHARED_ROUTER
    }

    /** The file's name for {@code role}'s tensor ({@code layer} is ignored for the whole-model roles). */
    String name(Role role, int layer);

    boolean has(String name);

    /** A weight matrix of [rows = outputs, cols = inputs]; throws naming the file and the tensor when missing or misshapen. */
    Matrix matrix(String name, int rows, int cols);

    /** A norm weight or bias of {@code length} elements, as floats. */
    float[] vector(String name, int length);

    /**
     * Expert {@code expert}'s matrix of role {@link Role#EXPERT_GATE}, {@link Role#EXPERT_UP} or {@link Role#EXPERT_DOWN}
     * in {@code layer}: [rows, cols]; throws naming the file and the tensor when missing or misshapen.
     */
    Matrix expert(Role role, int layer, int expert, int rows, int cols);

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
        Experts mixture = c.block().experts();
        ExpertWeights[] experts = mixture == null ? null : new ExpertWeights[layers];
        if (mixture != null) {
            gate = up = down = null;
        }
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
            if (mixture != null) {
                experts[l] = readExperts(c, t, l);
                continue;
            }
            gate[l] = t.matrix(t.name(Role.GATE, l), c.hiddenDim(), c.dim());
            up[l] = t.matrix(t.name(Role.UP, l), c.hiddenDim(), c.dim());
            down[l] = t.matrix(t.name(Role.DOWN, l), c.dim(), c.hiddenDim());
        }
        Matrix embedding = t.matrix(t.name(Role.TOKEN_EMBEDDING, 0), c.vocabSize(), c.dim());
        String outputName = t.name(Role.OUTPUT, 0);
        Matrix output = t.has(outputName) ? t.matrix(outputName, c.vocabSize(), c.dim()) : embedding;
        return new LlamaWeights(embedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm, ffnNorm, gate, up, down,
                t.vector(t.name(Role.OUTPUT_NORM, 0), c.dim()), output, ropeFactors, postAttnNorm, postFfnNorm, experts);
    }

    /** Layer l's router, experts and, where the configuration has one, shared expert (gated when the file has the gate). */
    private static ExpertWeights readExperts(ModelConfig c, LlamaTensors t, int l) {
        Experts e = c.block().experts();
        int dim = c.dim();
        Matrix[] gate = new Matrix[e.count()];
        Matrix[] up = new Matrix[e.count()];
        Matrix[] down = new Matrix[e.count()];
        for (int x = 0; x < e.count(); x++) {
            gate[x] = t.expert(Role.EXPERT_GATE, l, x, e.hidden(), dim);
            up[x] = t.expert(Role.EXPERT_UP, l, x, e.hidden(), dim);
            down[x] = t.expert(Role.EXPERT_DOWN, l, x, dim, e.hidden());
        }
        Matrix router = t.matrix(t.name(Role.ROUTER, l), e.count(), dim);
        if (e.sharedHidden() == 0) {
            return new ExpertWeights(router, gate, up, down, null, null, null, null);
        }
        int width = e.sharedHidden();
        String gateName = t.name(Role.SHARED_ROUTER, l);
        return new ExpertWeights(router, gate, up, down, t.matrix(t.name(Role.SHARED_GATE, l), width, dim),
                t.matrix(t.name(Role.SHARED_UP, l), width, dim), t.matrix(t.name(Role.SHARED_DOWN, l), dim, width),
                t.has(gateName) ? t.vector(gateName, dim) : null);
    }
}
