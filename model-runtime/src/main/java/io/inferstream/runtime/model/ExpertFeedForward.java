package io.inferstream.runtime.model;

import io.inferstream.runtime.tensor.VectorMath;
import io.inferstream.runtime.tensor.WorkerPool;

/**
 * A mixture-of-experts feed-forward block ({@link Experts}) for the n tokens of a step, as llama.cpp's build_moe_ffn
 * computes it: router scores, softmax, each token's {@code used} most probable experts (the lower index first on a
 * tie), their probabilities (divided by their sum where the model normalizes them), and the weighted sum of those
 * experts' SwiGLU outputs.
 *
 * <p>Each expert multiplies all the step's tokens that chose it as one batch, so its weights are read once per step,
 * not once per token. The experts that run are spread over the worker pool whole (each one's products, SwiGLU and copy
 * on one thread, with scratch of its own): an expert's products are small (Granite-MoE-1B: 512 × 1024), and splitting
 * each of them over the threads cost more in hand-offs than it gained (one token, two threads: 3.4 ms a layer against
 * 2.8 ms on one thread, {@code ExpertFeedForwardBenchmark}); a large group's products still spread themselves. A token's sum runs over its experts in the order it chose them, so its output is the same
 * bits alone, in a prefill chunk or in any batch (the matmul kernels give every (row, token) element the same bits
 * whatever the batch).
 *
 * <p>Scratch buffers grow with the largest batch; like {@link LlamaModel#forward}, one step at a time.
 */
final class ExpertFeedForward {

    private final Experts experts;
    private final int dim;

    private int capacity;
    private float[] probs;   // [n, count] router scores, then probabilities
    private int[] chosen;    // [n, used] each token's experts, most probable first
    private float[] weights; // [n, used] their weights in the sum
    private int[] order;     // [n * used] slots t·used + j, grouped by expert, tokens in order within an expert
    private int[] first;     // [count + 1] each expert's first entry in order
    private int[] running;   // [count] the experts some token chose
    private float[] gate;    // [n, sharedHidden] the shared expert's gate, then SwiGLU
    private float[] up;      // [n, sharedHidden]
    private float[] slots;   // [n · used, dim] every chosen expert's output for its token
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    private float[] shared;  // [n, dim] the shared expert's outputs

    ExpertFeedForward(Experts experts, int dim) {
        this.experts = experts;
        this.dim = dim;
        this.first = new int[experts.count() + 1];
        this.running = new int[experts.count()];
    }

    /** out[t] = Σ_j weight(t, j) · expert_{chosen(t, j)}(x[t]) (+ the shared expert) for t &lt; n   // x, out: [n, dim] */
    void forward(ExpertWeights w, float[] x, int n, float[] out) {
        if (x == out) {
            throw new IllegalArgumentException("the experts' input and output must be different buffers");
        }
        ensureCapacity(n);
        int count = experts.count();
        int used = experts.used();
        w.router().matmul(x, probs, n);
        for (int t = 0; t < n; t++) {
            route(t);
        }
        group(n);

        // Each expert over the tokens that chose it, as one batch; the experts spread over the pool.
        int run = 0;
        for (int e = 0; e < count; e++) {
            if (first[e + 1] > first[e]) {
                running[run++] = e;
            }
        }
        WorkerPool.parallelFor(0, run, i -> runExpert(w, running[i], x));

        // Each token's sum, in the order of its choice.
        for (int t = 0; t < n; t++) {
            int o = t * dim;
            for (int d = 0; d < dim; d++) {
                out[o + d] = 0f;
            }
            for (int j = 0; j < used; j++) {
                VectorMath.axpy(weights[t * used + j], slots, (t * used + j) * dim, out, o, dim);
            }
        }
        if (w.hasShared()) {
            addShared(w, x, n, out);
        }
    }

    /** Expert e over the m tokens that chose it: their outputs into their slots. */
    private void runExpert(ExpertWeights w, int e, float[] x) {
        int used = experts.used();
        int hidden = experts.hidden();
        int m = first[e + 1] - first[e];
        Scratch s = scratch.get().ensure(m, dim, hidden);
        for (int i = 0; i < m; i++) {
            int token = order[first[e] + i] / used;
            System.arraycopy(x, token * dim, s.in, i * dim, dim);
        }
        w.gate()[e].matmul(s.in, s.gate, m);
        w.up()[e].matmul(s.in, s.up, m);
        for (int i = 0; i < m; i++) {
            VectorMath.swiglu(s.gate, s.up, i * hidden, hidden);
        }
        w.down()[e].matmul(s.gate, s.down, m);
        for (int i = 0; i < m; i++) {
            System.arraycopy(s.down, i * dim, slots, order[first[e] + i] * dim, dim);
        }
    }

    /** One thread's buffers for the expert it runs: its tokens [m, dim], gate and up [m, hidden], outputs [m, dim]. */
    private static final class Scratch {
        float[] in = new float[0];
        float[] gate = new float[0];
        float[] up = new float[0];
        float[] down = new float[0];

        Scratch ensure(int m, int dim, int hidden) {
            if (in.length < m * dim) {
                in = new float[m * dim];
                down = new float[m * dim];
            }
            if (gate.length < m * hidden) {
                gate = new float[m * hidden];
                up = new float[m * hidden];
            }
            return this;
        }
    }

    /** Experts the last {@link #forward} ran: those that at least one of its tokens chose. */
    int expertsRun() {
        int run = 0;
        for (int e = 0; e < experts.count(); e++) {
            run += first[e + 1] > first[e] ? 1 : 0;
        }
        return run;
    }

    /** Token t's experts and weights from its router scores in probs[t]. */
    private void route(int t) {
        int count = experts.count();
        int used = experts.used();
        int p = t * count;
        float max = Float.NEGATIVE_INFINITY;
        for (int e = 0; e < count; e++) {
            max = Math.max(max, probs[p + e]);
        }
        double z = 0;
        for (int e = 0; e < count; e++) {
            double v = Math.exp(probs[p + e] - max);
            probs[p + e] = (float) v;
            z += v;
        }
        for (int e = 0; e < count; e++) {
            probs[p + e] = (float) (probs[p + e] / z);
        }
        double sum = 0;
        for (int j = 0; j < used; j++) {
            int best = -1;
            for (int e = 0; e < count; e++) {
                if (!taken(t, j, e) && (best < 0 || probs[p + e] > probs[p + best])) {
                    best = e;
                }
            }
            chosen[t * used + j] = best;
            weights[t * used + j] = probs[p + best];
            sum += probs[p + best];
        }
        for (int j = 0; j < used; j++) {
            float v = experts.normalize() ? (float) (weights[t * used + j] / sum) : weights[t * used + j];
            weights[t * used + j] = v * experts.weightsScale();
        }
    }

    /** Whether expert e is among token t's first j choices. */
    private boolean taken(int t, int j, int e) {
        for (int i = 0; i < j; i++) {
            if (chosen[t * experts.used() + i] == e) {
                return true;
            }
        }
        return false;
    }

    /** Counting sort of the n · used slots by expert (stable: a token's slots stay in token order within an expert). */
    private void group(int n) {
        int count = experts.count();
        int slotsUsed = n * experts.used();
        java.util.Arrays.fill(first, 0);
        for (int s = 0; s < slotsUsed; s++) {
            first[chosen[s] + 1]++;
        }
        for (int e = 0; e < count; e++) {
            first[e + 1] += first[e];
        }
        int[] next = java.util.Arrays.copyOf(first, count);
        for (int s = 0; s < slotsUsed; s++) {
            order[next[chosen[s]]++] = s;
        }
    }

    /** out[t] += s(t) · shared(x[t]), s(t) = sigmoid(sharedRouter · x[t]) (Qwen2-MoE) or 1 (Granite MoE shared). */
    private void addShared(ExpertWeights w, float[] x, int n, float[] out) {
        int width = experts.sharedHidden();
        w.sharedGate().matmul(x, gate, n);
        w.sharedUp().matmul(x, up, n);
        WorkerPool.parallelFor(0, n, t -> VectorMath.swiglu(gate, up, t * width, width));
        w.sharedDown().matmul(gate, shared, n);
        for (int t = 0; t < n; t++) {
            float s = w.sharedRouter() == null ? 1f
                    : (float) (1 / (1 + Math.exp(-VectorMath.dot(w.sharedRouter(), 0, x, t * dim, dim))));
            VectorMath.axpy(s, shared, t * dim, out, t * dim, dim);
        }
    }

    private void ensureCapacity(int n) {
        if (n <= capacity) {
            return;
        }
        int c = Math.max(n, capacity * 2);
        int used = experts.used();
        probs = new float[c * experts.count()];
        chosen = new int[c * used];
        weights = new float[c * used];
        order = new int[c * used];
        slots = new float[c * used * dim];
        if (experts.sharedHidden() > 0) {
            gate = new float[c * experts.sharedHidden()];
            up = new float[c * experts.sharedHidden()];
            shared = new float[c * dim];
        }
        capacity = c;
    }
}
