package io.inferstream.runtime.model;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.tensor.Matrix;
import io.inferstream.runtime.tensor.VectorMath;
import io.inferstream.runtime.tensor.WorkerPool;

/**
 * A Llama-family decoder (llama, mistral, qwen2, qwen3, phi3, Gemma 1-3 and Granite with their {@link BlockOptions}, and the
 * mixtures of experts of Mixtral, Qwen2-MoE, Qwen3-MoE and Granite MoE through {@link ExpertFeedForward}) on the CPU. One {@link #forward} runs every token of
 * a batch at once: each weight matrix is multiplied against all n tokens, while RoPE, the KV write and
 * attention happen per token at its own position in its own sequence.
 *
 * <p>Scratch buffers are allocated once and grown when a larger batch arrives; {@code forward} is
 * therefore one step at a time (synchronized).
 */
public final class LlamaModel implements LanguageModel {

    /**
     * Tokens of one sequence that attend together, reading each KV block once (a prefill chunk of 512 tokens of
     * one sequence still makes 64 runs per KV head to spread over the pool).
     */
    private static final int ATTENTION_RUN = 8;

    private final ModelConfig config;
    private final LlamaWeights w;
    private final Rope rope;
    private final Rope slidingRope; // the sliding-window layers' own RoPE (Gemma 3), or null
    private final PagedAttention attention;
    private final AttentionSegments segments; // long contexts' parts, merged
    private final ExpertFeedForward experts; // the mixture-of-experts feed-forward, or null for a dense model
    private final int qDim;

    // Scratch for n tokens, grown on demand.
    private int capacity;
    private float[] x;    // [n, dim] residual stream
    private float[] xb;   // [n, dim] normalized input of a block / block output
    private float[] q;    // [n, qDim]
    private float[] k;    // [n, kvDim]
    private float[] v;    // [n, kvDim]
    private float[] att;  // [n, qDim] attention output
    private float[] hb;   // [n, hidden] gate, then SwiGLU
    private float[] hb2;  // [n, hidden] up
    private float[] moe;  // [n, dim] the experts' output (a mixture model only)
    private float[] cos;  // [n, headDim / 2] RoPE at each token's position, shared by all layers
    private float[] sin;  // [n, headDim / 2]
    private float[] slidingCos; // [n, headDim / 2] at the sliding layers' RoPE, when they have their own
    private float[] slidingSin;
    private int[] runs;   // [runs + 1] first batch row of each attention run, then n
    private long attentionNanos; // wall time in the layers' attention (all steps so far): benchmarks read it
    private int[] unitRun = new int[16];     // attention tasks (before the KV heads): their run
    private int[] unitSegment = new int[16]; // and the segment of its context they read

    public LlamaModel(ModelConfig config, LlamaWeights weights) {
        if (config.nHeads() % config.nKvHeads() != 0) {
            throw new IllegalArgumentException("head_count " + config.nHeads() + " is not a multiple of head_count_kv "
                    + config.nKvHeads());
        }
        this.config = config;
        this.w = weights;
        this.rope = new Rope(config, weights.ropeFactors());
        SlidingWindow window = config.block().window();
        // a pattern of sliding and global layers gives the sliding ones their own RoPE; where every layer slides (phi3)
        // they keep the model's
        this.slidingRope = window == null || window.period() == 0 ? null
                : new Rope(config, weights.ropeFactors(), window.ropeTheta(), 1f);
        this.attention = new PagedAttention(config);
        this.segments = new AttentionSegments(config);
        Experts e = config.block().experts();
        if ((e != null) != (weights.experts() != null)) {
            throw new IllegalArgumentException("the configuration has " + (e == null ? "no" : e.count())
                    + " experts but the weights " + (weights.experts() == null ? "have none" : "are a mixture's"));
        }
        this.experts = e == null ? null : new ExpertFeedForward(e, config.dim());
        this.qDim = config.nHeads() * config.headDim();
    }

    /** Loads a GGUF model (weights stay memory-mapped) for its default context. */
    public static LlamaModel load(GgufFile gguf) {
        return load(gguf, 0);
    }

    /**
     * Loads a GGUF model for a context of {@code contextTokens} positions (0: its default), which decides a LongRoPE
     * model's factors (see {@link #config(GgufFile, int)}).
     */
    public static LlamaModel load(GgufFile gguf, int contextTokens) {
        return GgufLlamaLoader.load(gguf, contextTokens);
    }

    /** A GGUF model's configuration for its default context, without loading its weights. */
    public static ModelConfig config(GgufFile gguf) {
        return config(gguf, 0);
    }

    /** Wall time this model's forward steps have spent in attention so far, in ns (ForwardStepBenchmark). */
    synchronized long attentionNanos() {
        return attentionNanos;
    }

    /**
     * A GGUF model's configuration for a context of {@code contextTokens} positions (0: its default). Only a LongRoPE
     * model (Phi-3 128k, Phi-3.5-mini, Phi-4-mini) depends on it: past its original context it turns with its long
     * factors and runs the context asked for, up to the file's {@code context_length}.
     */
    public static ModelConfig config(GgufFile gguf, int contextTokens) {
        return GgufLlamaLoader.config(gguf, contextTokens);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return w;
    }

    @Override
    public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
        return new KvStore(config.nLayers(), config.kvDim(), numBlocks, blockSize, precision);
    }

    @Override
    public synchronized float[] forward(TokenBatch batch, KvStore kv) {
        int n = batch.size();
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        int vocab = config.vocabSize();
        validate(batch, kv);
        ensureCapacity(n);

        BlockOptions block = config.block();
        for (int t = 0; t < n; t++) {
            w.tokenEmbedding().dequantizeRow(batch.tokens()[t], x, t * dim);
            if (block.embeddingScale() != 1f) { // Gemma: sqrt(dim)
                VectorMath.scale(x, t * dim, dim, block.embeddingScale());
            }
        }
        int[] slots = new int[n];
        int bs = kv.blockSize();
        int half = config.headDim() / 2;
        for (int t = 0; t < n; t++) {
            int pos = batch.positions()[t];
            slots[t] = batch.blockTables()[batch.seq()[t]][pos / bs] * bs + pos % bs;
            rope.angles(pos, cos, sin, t * half);
            if (slidingRope != null) {
                slidingRope.angles(pos, slidingCos, slidingSin, t * half);
            }
        }

        int runCount = splitRuns(batch);

        SlidingWindow window = block.window();
        for (int l = 0; l < config.nLayers(); l++) {
            final int layer = l;
            boolean slides = window != null && window.slides(l);
            boolean ownRope = slides && slidingRope != null;
            float[] c = ownRope ? slidingCos : cos;
            float[] sn = ownRope ? slidingSin : sin;
            int seen = slides ? window.size() : 0;
            // Attention block: xb = rmsnorm(x); q, k, v = xb Wq^T, xb Wk^T, xb Wv^T   // [n, qDim], [n, kvDim]
            rmsnorm(xb, x, w.attnNorm()[l], n);
            w.wq()[l].matmul(xb, q, n);
            w.wk()[l].matmul(xb, k, n);
            w.wv()[l].matmul(xb, v, n);
            for (int t = 0; t < n; t++) {
                if (w.bq() != null) {
                    VectorMath.add(q, t * qDim, w.bq()[l], 0, qDim);
                    VectorMath.add(k, t * kvDim, w.bk()[l], 0, kvDim);
                    VectorMath.add(v, t * kvDim, w.bv()[l], 0, kvDim);
                }
                if (w.qNorm() != null) { // qwen3: every head's q and k RMS-normalized before RoPE
                    normalizeHeads(q, t * qDim, config.nHeads(), w.qNorm()[l]);
                    normalizeHeads(k, t * kvDim, config.nKvHeads(), w.kNorm()[l]);
                }
                Rope r = ownRope ? slidingRope : rope;
                r.rotate(q, t * qDim, config.nHeads(), c, sn, t * half);
                r.rotate(k, t * kvDim, config.nKvHeads(), c, sn, t * half);
                attention.store(kv, l, slots[t], k, t * kvDim, v, t * kvDim);
            }
            // All of the step's keys/values are stored before any token attends: a prefill chunk sees itself.
            // One task per (run of a sequence's consecutive tokens, segment of its context, KV head): a run reads each
            // KV block once; tokens that see several segments then merge their parts.
            int kvHeads = config.nKvHeads();
            int[] runStart = runs;
            int[] positions = batch.positions();
            segments.plan(n, positions, seen);
            int units = planUnits(runCount, positions, seen);
            int[] unitRun = this.unitRun;
            int[] unitSegment = this.unitSegment;
            long attentionStart = System.nanoTime();
            WorkerPool.parallelFor(0, units * kvHeads, u -> {
                int r = unitRun[u / kvHeads];
                int t = runStart[r];
                attention.attend(kv, layer, q, t, runStart[r + 1] - t, positions[t], u % kvHeads,
                        batch.blockTables()[batch.seq()[t]], seen, unitSegment[u / kvHeads], segments, att);
            });
            if (segments.multiCount() > 0) {
                WorkerPool.parallelFor(0, segments.multiCount(), i -> {
                    int t = segments.multi(i);
                    segments.merge(t, positions[t], att, qDim);
                });
            }
            attentionNanos += System.nanoTime() - attentionStart;
            w.wo()[l].matmul(att, xb, n);
            if (block.postNorms()) { // Gemma 2, 3: the block's output normalized before the residual add
                rmsnorm(xb, xb, w.postAttnNorm()[l], n);
            }
            if (block.residualScale() != 1f) { // Granite
                VectorMath.scale(xb, 0, n * dim, block.residualScale());
            }
            VectorMath.add(x, 0, xb, 0, n * dim);

            rmsnorm(xb, x, w.ffnNorm()[l], n);
            if (experts != null) { // Mixture of experts: x += Σ_j p_j · expert_j(xb)
                experts.forward(w.experts()[l], xb, n, moe);
                if (block.residualScale() != 1f) {
                    VectorMath.scale(moe, 0, n * dim, block.residualScale());
                }
                VectorMath.add(x, 0, moe, 0, n * dim);
                continue;
            }
            // Feed-forward block: x += W2 (silu(W1 xb) * W3 xb)   // hidden [n, hidden]; Gemma: gelu for silu
            w.gate()[l].matmul(xb, hb, n);
            w.up()[l].matmul(xb, hb2, n);
            // element-wise (one exp per element): spread over the pool like the matmuls around it
            if (block.geluFeedForward()) {
                WorkerPool.parallelFor(0, n, t -> VectorMath.geglu(hb, hb2, t * hidden, hidden));
            } else {
                WorkerPool.parallelFor(0, n, t -> VectorMath.swiglu(hb, hb2, t * hidden, hidden));
            }
            w.down()[l].matmul(hb, xb, n);
            if (block.postNorms()) {
                rmsnorm(xb, xb, w.postFfnNorm()[l], n);
            }
            if (block.residualScale() != 1f) {
                VectorMath.scale(xb, 0, n * dim, block.residualScale());
            }
            VectorMath.add(x, 0, xb, 0, n * dim);
        }

        // Final norm and classifier, only for the rows whose next-token logits are wanted.
        int[] rows = batch.logitRows();
        int m = rows.length;
        if (m == 0) {
            return new float[0];
        }
        float[] normed = new float[m * dim]; // [m, dim]
        for (int r = 0; r < m; r++) {
            VectorMath.rmsnorm(normed, r * dim, x, rows[r] * dim, w.outputNorm(), dim, config.rmsEps());
        }
        float[] logits = new float[m * vocab]; // [m, vocab]
        w.output().matmul(normed, logits, m);
        if (block.finalSoftcap() > 0) { // Gemma 2: cap·tanh(logit / cap)
            float cap = block.finalSoftcap();
            for (int i = 0; i < logits.length; i++) {
                logits[i] = cap * (float) Math.tanh(logits[i] / cap);
            }
        }
        if (block.logitScale() != 1f) { // Granite: logits / logit_scale, as llama.cpp scales them (by the reciprocal)
            VectorMath.scale(logits, 0, logits.length, 1f / block.logitScale());
        }
        return logits;
    }

    /**
     * Splits the batch into runs for attention: consecutive batch rows of one sequence at consecutive positions, at
     * most {@link #ATTENTION_RUN} long. Run r is rows [runs[r], runs[r + 1]). Returns the number of runs.
     */
    /** The (run, segment) pairs of a layer's attention into unitRun / unitSegment; returns their count. */
    private int planUnits(int runCount, int[] positions, int window) {
        int units = 0;
        for (int r = 0; r < runCount; r++) {
            int t = runs[r];
            int lo = AttentionSegments.of(AttentionSegments.first(positions[t], window));
            int hi = AttentionSegments.of(positions[runs[r + 1] - 1]);
            if (unitRun.length < units + hi - lo + 1) {
                unitRun = java.util.Arrays.copyOf(unitRun, 2 * (units + hi - lo + 1));
                unitSegment = java.util.Arrays.copyOf(unitSegment, unitRun.length);
            }
            for (int k = lo; k <= hi; k++) {
                unitRun[units] = r;
                unitSegment[units++] = k;
            }
        }
        return units;
    }

    private int splitRuns(TokenBatch batch) {
        int n = batch.size();
        int count = 0;
        for (int t = 0; t < n; t++) {
            boolean continues = t > 0 && t - runs[count - 1] < ATTENTION_RUN && batch.seq()[t] == batch.seq()[t - 1]
                    && batch.positions()[t] == batch.positions()[t - 1] + 1;
            if (!continues) {
                runs[count++] = t;
            }
        }
        runs[count] = n;
        return count;
    }

    /** x[off + h·headDim ..] = rmsnorm(that head) · weight, in place, for each of {@code heads} heads */
    private void normalizeHeads(float[] x, int off, int heads, float[] weight) {
        int hd = config.headDim();
        for (int h = 0; h < heads; h++) {
            VectorMath.rmsnorm(x, off + h * hd, x, off + h * hd, weight, hd, config.rmsEps());
        }
    }

    /** out[t] = rmsnorm(in[t]) for each of the n tokens   // [n, dim] */
    private void rmsnorm(float[] out, float[] in, float[] weight, int n) {
        int dim = config.dim();
        for (int t = 0; t < n; t++) {
            VectorMath.rmsnorm(out, t * dim, in, t * dim, weight, dim, config.rmsEps());
        }
    }

    private void validate(TokenBatch batch, KvStore kv) {
        if (kv.nLayers() != config.nLayers() || kv.kvDim() != config.kvDim()) {
            throw new IllegalArgumentException("KV store of " + kv.nLayers() + " layers x " + kv.kvDim()
                    + " does not fit this model (" + config.nLayers() + " layers x " + config.kvDim() + ")");
        }
        for (int r : batch.logitRows()) {
            if (r < 0 || r >= batch.size()) {
                throw new IllegalArgumentException("logit row " + r + " is not one of the batch's " + batch.size() + " tokens");
            }
        }
        int capacityPositions = kv.numBlocks() * kv.blockSize();
        for (int t = 0; t < batch.size(); t++) {
            int token = batch.tokens()[t];
            int pos = batch.positions()[t];
            if (token < 0 || token >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + token + " at batch index " + t + " is outside the vocabulary of "
                        + config.vocabSize());
            }
            int[] table = batch.blockTables()[batch.seq()[t]];
            if (pos < 0 || pos / kv.blockSize() >= table.length || table[pos / kv.blockSize()] * kv.blockSize() >= capacityPositions) {
                throw new IllegalArgumentException("position " + pos + " of sequence " + batch.seq()[t]
                        + " has no KV block in its block table of " + table.length + " blocks");
            }
        }
    }

    private void ensureCapacity(int n) {
        if (n <= capacity) {
            return;
        }
        int c = Math.max(n, capacity * 2);
        x = new float[c * config.dim()];
        xb = new float[c * config.dim()];
        q = new float[c * qDim];
        k = new float[c * config.kvDim()];
        v = new float[c * config.kvDim()];
        att = new float[c * qDim];
        if (experts == null) {
            hb = new float[c * config.hiddenDim()];
            hb2 = new float[c * config.hiddenDim()];
        } else {
            moe = new float[c * config.dim()];
        }
        cos = new float[c * (config.headDim() / 2)];
        sin = new float[c * (config.headDim() / 2)];
        if (slidingRope != null) {
            slidingCos = new float[c * (config.headDim() / 2)];
            slidingSin = new float[c * (config.headDim() / 2)];
        }
        runs = new int[c + 1];
        capacity = c;
    }
}
