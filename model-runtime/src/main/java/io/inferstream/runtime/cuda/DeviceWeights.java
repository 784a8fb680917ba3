package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.model.LlamaWeights;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.SlidingWindow;
import io.inferstream.runtime.tensor.Matrix;

/**
 * A Llama-family model's weights in device memory (llama2.c's {@code TransformerWeights}), uploaded once from the
 * memory-mapped GGUF: the matrices as {@link DeviceMatrix}es, the norms, biases and RoPE frequencies as float
 * buffers. Per layer where indexed. The output head is the embedding matrix when the model ties them.
 */
final class DeviceWeights implements AutoCloseable {

    final DeviceMatrix embedding; // [vocab, dim]
    final DeviceMatrix output;    // [vocab, dim]
    final DeviceMatrix[] wq;      // [layers][qDim, dim]
    final DeviceMatrix[] wk;      // [layers][kvDim, dim]
    final DeviceMatrix[] wv;      // [layers][kvDim, dim]
    final DeviceMatrix[] wo;      // [layers][dim, qDim]
    final DeviceMatrix[] gate;    // [layers][hidden, dim]; null in a mixture of experts
    final DeviceMatrix[] up;      // [layers][hidden, dim]; null in a mixture
    final DeviceMatrix[] down;    // [layers][dim, hidden]; null in a mixture
    final DeviceExperts[] experts; // [layers] a mixture's feed-forward blocks, or null for a dense model
    final DeviceBuffer[] attnNorm; // [layers][dim]
    final DeviceBuffer[] ffnNorm;  // [layers][dim]
    final DeviceBuffer[] bq;       // [layers][qDim], null without biases (qwen2 has them)
    final DeviceBuffer[] bk;       // [layers][kvDim], null without biases
    final DeviceBuffer[] bv;       // [layers][kvDim], null without biases
    final DeviceBuffer[] qNorm;    // [layers][headDim], null without QK-norm (qwen3 has it)
    final DeviceBuffer[] kNorm;    // [layers][headDim], null without QK-norm
    final DeviceBuffer outputNorm; // [dim]
    final DeviceBuffer invFreq;    // [headDim] RoPE (inverse frequency, magnitude) per pair: RopeFrequencies
    final DeviceBuffer invFreqSliding; // the sliding-window layers' own table (Gemma 3), or null where they keep invFreq
    final DeviceBuffer[] postAttnNorm; // [layers][dim] on the attention output before its residual add (Gemma 3), or null
    final DeviceBuffer[] postFfnNorm;  // [layers][dim] on the feed-forward output, or null
    private final List<AutoCloseable> owned = new ArrayList<>();

    /**
     * Device bytes the weights of {@code w} take (F32 matrices as BF16 when {@code f32ToBf16}; Q4_K / Q6_K as they
     * are when {@code kQuants}, else decoded to F16).
     */
    static long bytes(LlamaWeights w, ModelConfig config, boolean f32ToBf16, boolean kQuants) {
        long bytes = 0;
        for (Matrix m : matrices(w, config)) {
            bytes += DeviceMatrix.deviceBytes(m.type(), f32ToBf16, kQuants, m.rows(), m.cols());
        }
        if (w.experts() != null) {
            for (io.inferstream.runtime.model.ExpertWeights e : w.experts()) {
                bytes += DeviceExperts.bytes(e, config.block().experts(), config.dim(), f32ToBf16, kQuants);
            }
        }
        bytes += 4L * config.dim() * (2L * config.nLayers() + 1);
        if (w.bq() != null) {
            int qDim = config.nHeads() * config.headDim();
            bytes += 4L * config.nLayers() * (qDim + 2L * config.kvDim());
        }
        if (w.qNorm() != null) {
            bytes += 4L * config.nLayers() * 2L * config.headDim();
        }
        return bytes;
    }

    /**
     * Every distinct matrix of {@code w}: the embedding, the output head unless tied, then each layer's seven (four in a
     * mixture of experts, whose feed-forward matrices {@link DeviceExperts} holds).
     */
    private static List<Matrix> matrices(LlamaWeights w, ModelConfig config) {
        List<Matrix> all = new ArrayList<>();
        all.add(w.tokenEmbedding());
        if (w.output() != w.tokenEmbedding()) {
            all.add(w.output());
        }
        for (int l = 0; l < config.nLayers(); l++) {
            all.addAll(List.of(w.wq()[l], w.wk()[l], w.wv()[l], w.wo()[l]));
            if (w.experts() == null) {
                all.addAll(List.of(w.gate()[l], w.up()[l], w.down()[l]));
            }
        }
        return all;
    }

    /**
     * Whether any matrix of {@code w}, experts included, is Q4_K or Q6_K (which the device may hold as they are or
     * decoded to F16).
     */
    static boolean hasKQuants(LlamaWeights w, ModelConfig config) {
        List<Matrix> all = new ArrayList<>(matrices(w, config));
        if (w.experts() != null) { // a mixture's experts (one stands for all: the loader gives them one type) and shared expert
            for (io.inferstream.runtime.model.ExpertWeights e : w.experts()) {
                all.addAll(List.of(e.gate()[0], e.up()[0], e.down()[0]));
                if (e.hasShared()) {
                    all.addAll(List.of(e.sharedGate(), e.sharedUp(), e.sharedDown()));
                }
            }
        }
        for (Matrix m : all) {
            if (m.type() == GgmlType.Q4_K || m.type() == GgmlType.Q6_K) {
                return true;
            }
        }
        return false;
    }

    /** Uploads the weights the CPU loader read from {@code checkpoint}; frees what it uploaded if any upload fails. */
    static DeviceWeights upload(Checkpoint checkpoint, LlamaWeights w, ModelConfig config, boolean f32ToBf16, boolean kQuants) {
        DeviceWeights d = null;
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            d = new DeviceWeights(checkpoint, w, config, f32ToBf16, kQuants, owned);
            return d;
        } finally {
            if (d == null) {
                close(owned);
            }
        }
    }

    private DeviceWeights(Checkpoint checkpoint, LlamaWeights w, ModelConfig config, boolean f32ToBf16, boolean kQuants,
                          List<AutoCloseable> owned) {
        Map<Matrix, DeviceMatrix> uploaded = new IdentityHashMap<>();
        for (Matrix m : matrices(w, config)) {
            DeviceMatrix d = DeviceMatrix.upload(m, checkpoint.tensorData(m.name()), f32ToBf16, kQuants);
            owned.add(d);
            uploaded.put(m, d);
        }
        embedding = uploaded.get(w.tokenEmbedding());
        output = uploaded.get(w.output());
        int layers = config.nLayers();
        wq = new DeviceMatrix[layers];
        wk = new DeviceMatrix[layers];
        wv = new DeviceMatrix[layers];
        wo = new DeviceMatrix[layers];
        boolean mixture = w.experts() != null;
        gate = mixture ? null : new DeviceMatrix[layers];
        up = mixture ? null : new DeviceMatrix[layers];
        down = mixture ? null : new DeviceMatrix[layers];
        experts = mixture ? new DeviceExperts[layers] : null;
        attnNorm = new DeviceBuffer[layers];
        ffnNorm = new DeviceBuffer[layers];
        boolean biases = w.bq() != null;
        bq = biases ? new DeviceBuffer[layers] : null;
        bk = biases ? new DeviceBuffer[layers] : null;
        bv = biases ? new DeviceBuffer[layers] : null;
        boolean qkNorm = w.qNorm() != null;
        qNorm = qkNorm ? new DeviceBuffer[layers] : null;
        kNorm = qkNorm ? new DeviceBuffer[layers] : null;
        boolean postNorms = w.postAttnNorm() != null;
        postAttnNorm = postNorms ? new DeviceBuffer[layers] : null;
        postFfnNorm = postNorms ? new DeviceBuffer[layers] : null;
        for (int l = 0; l < layers; l++) {
            wq[l] = uploaded.get(w.wq()[l]);
            wk[l] = uploaded.get(w.wk()[l]);
            wv[l] = uploaded.get(w.wv()[l]);
            wo[l] = uploaded.get(w.wo()[l]);
            if (mixture) {
                experts[l] = DeviceExperts.upload(checkpoint, w.experts()[l], config.block().experts(), config.dim(), f32ToBf16, kQuants,
                        "layer " + l);
                owned.add(experts[l]);
            } else {
                gate[l] = uploaded.get(w.gate()[l]);
                up[l] = uploaded.get(w.up()[l]);
                down[l] = uploaded.get(w.down()[l]);
            }
            attnNorm[l] = floats(owned, w.attnNorm()[l], "attn_norm " + l);
            ffnNorm[l] = floats(owned, w.ffnNorm()[l], "ffn_norm " + l);
            if (biases) {
                bq[l] = floats(owned, w.bq()[l], "attn_q.bias " + l);
                bk[l] = floats(owned, w.bk()[l], "attn_k.bias " + l);
                bv[l] = floats(owned, w.bv()[l], "attn_v.bias " + l);
            }
            if (qkNorm) {
                qNorm[l] = floats(owned, w.qNorm()[l], "attn_q_norm " + l);
                kNorm[l] = floats(owned, w.kNorm()[l], "attn_k_norm " + l);
            }
            if (postNorms) {
                postAttnNorm[l] = floats(owned, w.postAttnNorm()[l], "post_attention_norm " + l);
                postFfnNorm[l] = floats(owned, w.postFfnNorm()[l], "post_ffw_norm " + l);
            }
        }
        outputNorm = floats(owned, w.outputNorm(), "output_norm");
        invFreq = floats(owned, RopeFrequencies.of(config, w.ropeFactors()), "rope frequencies");
        // as the CPU model: a pattern of sliding and global layers gives the sliding ones their own RoPE, unscaled
        SlidingWindow window = config.block().window();
        invFreqSliding = window == null || window.period() == 0 ? null
                : floats(owned, RopeFrequencies.of(config, w.ropeFactors(), window.ropeTheta(), 1f), "sliding rope frequencies");
        this.owned.addAll(owned);
    }


    private static DeviceBuffer floats(List<AutoCloseable> owned, float[] v, String what) {
        DeviceBuffer b = DeviceBuffer.allocate(4L * v.length, what);
        owned.add(b);
        b.upload(v, v.length);
        return b;
    }

    /**
     * The output head and every layer's matrices that the products multiply (the embedding only where the head is tied
     * to it): in a mixture of experts, the shared expert's but not the router (always the plain product) nor the
     * experts (experts.cu's kernels).
     */
    List<DeviceMatrix> allMatrices() {
        List<DeviceMatrix> all = new ArrayList<>(List.of(output));
        for (int l = 0; l < wq.length; l++) {
            all.addAll(List.of(wq[l], wk[l], wv[l], wo[l]));
            all.addAll(experts == null ? List.of(gate[l], up[l], down[l]) : experts[l].sharedMatrices());
        }
        return all;
    }

    /**
     * Weight bytes a decode step reads: every layer matrix and the output matrix once (the embedding is only
     * gathered, unless it is also the output); norms and biases are negligible and left out. In a mixture of experts,
     * the router, the shared expert and the experts one token runs through (more tokens may choose more of them).
     */
    long bytesReadPerDecodeStep(ModelConfig config) {
        long b = output.bytes();
        for (int l = 0; l < config.nLayers(); l++) {
            b += wq[l].bytes() + wk[l].bytes() + wv[l].bytes() + wo[l].bytes() + feedForwardBytes(l, config);
        }
        return b;
    }

    /** Weight bytes layer l's feed-forward block reads for one token (see {@link #bytesReadPerDecodeStep}). */
    long feedForwardBytes(int l, ModelConfig config) {
        if (!mixture()) {
            return gate[l].bytes() + up[l].bytes() + down[l].bytes();
        }
        DeviceExperts e = experts[l];
        long stacks = 0; // one token reads used / count of each stack
        for (DeviceExperts.Stack s : new DeviceExperts.Stack[] {e.gate, e.up, e.down}) {
            stacks += s.data().bytes() + (s.scales() == null ? 0 : s.scales().bytes());
        }
        long b = e.router.bytes() + stacks / config.block().experts().count() * config.block().experts().used();
        for (DeviceMatrix m : e.sharedMatrices()) {
            b += m.bytes();
        }
        return b;
    }

    /** Whether the feed-forward blocks are mixtures of experts ({@link #experts}) rather than gate, up and down. */
    boolean mixture() {
        return experts != null;
    }

    @Override
    public void close() {
        close(owned);
    }

    /** Closes every one of {@code owned} (device allocations, in the order made) and empties the list. */
    static void close(List<AutoCloseable> owned) {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("freeing device memory failed", e);
            }
        }
        owned.clear();
    }
}
