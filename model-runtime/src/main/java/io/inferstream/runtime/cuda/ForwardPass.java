package io.inferstream.runtime.cuda;

import static io.inferstream.runtime.cuda.CudaKernels.blocks;

import jcuda.driver.CUdeviceptr;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.BlockOptions;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.SlidingWindow;

/**
 * The kernels of one step's forward pass on the device, in order: embedding, then per layer the norm, the Q/K/V
 * products, RoPE and the KV write, attention, Wo, the norm, the feed-forward products and their residual add, then
 * the final norm and the classifier for the logit rows. Which kernel does each part is the model's load-time choice
 * ({@link CudaLlamaModel}'s switches, read at every step, and its skinny scratch); this class only launches them, so
 * that a step can be recorded as a CUDA graph. The load-time trials ({@link KernelTrials}) run its parts alone.
 */
final class ForwardPass {

    /** attention.cu: ATT_WARPS (warps per (token, head) block of attention_vec). */
    static final int ATT_WARPS = 8;

    private final CudaLlamaModel model; // its kernel choices, which change after the load, and the step profile
    private final CudaKernels k;
    private final ModelConfig config;
    private final int qDim;
    private final DeviceWeights w;
    private final StepBuffers buf; // [capacity, dim] activations; the step's metadata in buf.ints
    private final DeviceExpertFeedForward moe; // a mixture of experts' feed-forward block, else null
    private final SplitAttention splitAttention; // null where the heads do not fit it
    private final TiledAttention tiledAttention; // null where the heads do not fit it

    ForwardPass(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, DeviceExpertFeedForward moe,
                SplitAttention splitAttention, TiledAttention tiledAttention) {
        this.model = model;
        this.k = model.device().kernels();
        this.config = model.config();
        this.qDim = config.nHeads() * config.headDim();
        this.w = w;
        this.buf = buf;
        this.moe = moe;
        this.splitAttention = splitAttention;
        this.tiledAttention = tiledAttention;
    }

    /** Launches every kernel of a prepared step (nothing else: the sequence can be recorded as a CUDA graph). */
    void launch(StepShape shape, CudaKvStore kv, boolean wantLogits) {
        int n = shape.n();
        int m = shape.m();
        int maxBlocks = shape.maxBlocks();
        SkinnyScratch skinny = model.skinny; // the skinny kernels' scratch and choices (null: matvec / tiled products)
        int bs = kv.blockSize();
        int dim = config.dim();
        int hidden = config.hiddenDim();
        var tokens = buf.ints.at(shape.tokensAt()); // the step's metadata (StepMetadata)
        var positions = buf.ints.at(shape.positionsAt());
        var seq = buf.ints.at(shape.seqAt());
        var slots = buf.ints.at(shape.slotsAt());
        var rows = buf.ints.at(shape.logitRowsAt());
        var itemData = buf.ints.at(shape.itemsAt());
        var tableData = buf.ints.at(shape.tablesAt());

        k.launch(embedName(w.embedding), n, 1, 256, 0, embeddingData(), embeddingScales(), tokens, buf.x, dim);
        BlockOptions block = config.block();
        if (block.embeddingScale() != 1f) { // Gemma: sqrt(dim)
            k.launch("scale_inplace", blocks(n * dim), 1, 256, 0, buf.x, block.embeddingScale(), n * dim);
        }
        model.mark(StepProfile.Part.EMBED);
        boolean postNorms = block.postNorms(); // Gemma 2, 3: Wo's and down's outputs normalized before their residual adds
        float residualScale = block.residualScale(); // Granite: those outputs scaled
        // either needs the outputs themselves: the products that add into the residual stream, or leave their split-K
        // sums to the next norm, are not used
        boolean ownOutputs = postNorms || residualScale != 1f;
        boolean f16Kv = kv.precision() == KvStore.Precision.F16;
        float scale = config.qkScale(); // 1/sqrt(headDim), or the model's own
        int layers = config.nLayers();
        // xb = rmsnorm(x) of layer 0; later layers get it from the previous layer's fused add_rmsnorm
        rmsnorm(null, n, w.attnNorm[0], qkvReadsHalves(0, n) ? w.wq[0] : null);
        model.mark(StepProfile.Part.NORM);
        for (int l = 0; l < layers; l++) {
            // Attention block: q, k, v = xb Wq^T, xb Wk^T, xb Wv^T   // [n, qDim], [n, kvDim]
            boolean qkvGrouped = skinny != null && model.groupedSkinny && DeviceMatrix.groupable(n, w.wq[l], w.wk[l], w.wv[l]);
            boolean fusedRope = model.fusedRope && w.qNorm == null; // QK-norm comes between the product and RoPE
            if (qkvGrouped && fusedRope && reducesInProduct(true)) {
                // the same, the product's last block per row block reducing, rotating and writing the cache itself
                DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {w.wq[l], w.wk[l], w.wv[l]}, buf.xb, n, skinny,
                        qkvReadsHalves(l, n), skinny.halves, ropeKvEpilogue(l, positions, slots, kv.keys(l), kv.values(l), f16Kv));
                model.mark(StepProfile.Part.QKV_MATMUL);
            } else if (qkvGrouped && fusedRope) {
                // q, k, v = xb Wq^T, xb Wk^T, xb Wv^T, + biases, RoPE, the KV write: the reduction does them all
                int[] splits = DeviceMatrix.skinnyGroupPartials(k, new DeviceMatrix[] {w.wq[l], w.wk[l], w.wv[l]}, buf.xb, n, skinny,
                        qkvReadsHalves(l, n));
                model.mark(StepProfile.Part.QKV_MATMUL);
                reduceRopeKv(l, n, splits, positions, slots, kv.keys(l), kv.values(l), f16Kv);
                model.mark(StepProfile.Part.ROPE_KV);
            } else if (qkvGrouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[l], w.wk[l], w.wv[l]}, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf},
                        n, skinny, false, qkvReadsHalves(l, n), false);
            } else {
                DeviceMatrix.matmul3(k, w.wq[l], w.wk[l], w.wv[l], buf.xb, buf.q, buf.kBuf, buf.vBuf, n, skinny);
            }
            if (!(qkvGrouped && fusedRope)) {
                addQkvBiases(l, n);
                normalizeQkHeads(l, n);
                model.mark(StepProfile.Part.QKV_MATMUL);
                // RoPE, then the KV write, in one launch. All of the step's keys/values are stored before any token
                // attends: a prefill chunk sees itself.
                ropeKvStore(l, n, positions, slots, kv.keys(l), kv.values(l), f16Kv);
                model.mark(StepProfile.Part.ROPE_KV);
            }
            boolean woHalves = woReadsHalves(l, n);
            if (model.l2Prefetch > 0) { // Wo and gate/up weights into L2 while the attention leaves HBM idle
                prefetchWeights(l, model.l2Prefetch);
            }
            if (shape.items() > 0) { // a prefill step: the tiled kernel (it writes att's 16-bit copy as the split one does)
                tiledAttention.launch(k, f16Kv, buf.q, kv.keys(l), kv.values(l), positions, seq, tableData, maxBlocks, bs,
                        itemData, shape.items(), buf.att, n, scale,
                        woHalves ? skinny.halves : null, w.wo[l].type(), DeviceMatrix.streamPad(n), window(l),
                        block.attentionSoftcap());
            } else if (model.useSplitAttention) { // with woHalves it also writes att's 16-bit copy for the Wo product
                splitAttention.launch(k, f16Kv, buf.q, kv.keys(l), kv.values(l), positions, seq, tableData, maxBlocks, bs, buf.att,
                        n, scale, SplitAttention.splits(n, config.nKvHeads()), woHalves ? skinny.halves : null, w.wo[l].type(),
                        DeviceMatrix.streamPad(n), window(l), block.attentionSoftcap());
            } else {
                launchPerHeadAttention(f16Kv, buf.q, kv.keys(l), kv.values(l), positions, seq, tableData, maxBlocks, bs, buf.att, n,
                        window(l), block.attentionSoftcap());
            }
            model.mark(StepProfile.Part.ATTENTION);
            // x += att Wo^T reduced by the product itself where it can; else with the fused norm (chosen at load) the
            // streaming product's split-K reduction is left to the next norm
            boolean woResidual = !ownOutputs && reducesIntoResidual(w.wo[l], n);
            int woSplits = 0;
            if (woResidual) {
                DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {w.wo[l]}, buf.att, n, skinny, woHalves, skinny.halves,
                        GroupEpilogue.residual(buf.x));
            } else {
                woSplits = fuseReduceNorm() && !ownOutputs ? w.wo[l].matmulPartials(k, buf.att, buf.xb, n, skinny, woHalves)
                        : matmulAll(w.wo[l], buf.att, buf.xb, n, woHalves);
            }
            model.mark(StepProfile.Part.WO_MATMUL);
            if (postNorms) { // xb = rmsnorm(xb) * post_attention_norm, in place (each thread rewrites what it read)
                k.launch("rmsnorm", n, 1, 256, 0, buf.xb, null, w.postAttnNorm[l], buf.xb, dim, config.rmsEps());
                model.mark(StepProfile.Part.NORM);
            }
            if (residualScale != 1f) { // xb *= residual_multiplier
                k.launch("scale_inplace", blocks(n * dim), 1, 256, 0, buf.xb, residualScale, n * dim);
                model.mark(StepProfile.Part.ELEMENTWISE);
            }

            if (moe != null) { // a mixture of experts: x += xb; xb = rmsnorm(x); xb = Σ_j p_j · expert_j(xb)
                if (woResidual) {
                    rmsnorm(null, n, w.ffnNorm[l], null);
                } else {
                    addRmsnorm(woSplits, n, w.ffnNorm[l], null);
                }
                model.mark(StepProfile.Part.NORM);
                moe.forward(k, w.experts[l], buf.xb, n, skinny);
                model.mark(StepProfile.Part.FFN_MATMUL);
                if (residualScale != 1f) { // Granite MoE
                    k.launch("scale_inplace", blocks(n * dim), 1, 256, 0, buf.xb, residualScale, n * dim);
                    model.mark(StepProfile.Part.ELEMENTWISE);
                }
                addFeedForwardOutput(l, n, false, 0);
                continue;
            }
            // Feed-forward block: x += xb; xb = rmsnorm(x) (one launch), x += W2 (silu(W1 xb) * W3 xb)   // hidden [n, hidden]
            boolean ffnHalves = ffnReadsHalves(l, n);
            boolean downHalves = downReadsHalves(l, n);
            boolean ffnGrouped = skinny != null && model.groupedSkinny && DeviceMatrix.groupable(n, w.gate[l], w.up[l])
                    && w.gate[l].rows() == w.up[l].rows() && !block.geluFeedForward(); // the grouped epilogue is SwiGLU's
            boolean ffnReduced = ffnGrouped && reducesInProduct(false);
            // a gate/up product that reduces its own sums writes down's 16-bit activations into skinny.halves while it
            // still reads its own: those then go to the staged copy
            DeviceBuffer ffnXh = skinny == null ? null : ffnReduced && downHalves ? skinny.stagedHalves : skinny.halves;
            if (woResidual) {
                rmsnorm(null, n, w.ffnNorm[l], ffnHalves ? w.gate[l] : null, ffnXh); // x already holds the residual
            } else {
                addRmsnorm(woSplits, n, w.ffnNorm[l], ffnHalves ? w.gate[l] : null, ffnXh);
            }
            model.mark(StepProfile.Part.NORM);
            if (ffnReduced) {
                DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {w.gate[l], w.up[l]}, buf.xb, n, skinny, ffnHalves, ffnXh,
                        GroupEpilogue.swiglu(buf.hb, downHalves ? skinny.halves : null));
                model.mark(StepProfile.Part.FFN_MATMUL);
            } else if (ffnGrouped) {
                // hb = silu(xb gate^T) * (xb up^T), SwiGLU in the split-K reduction
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[l], w.up[l]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n,
                        skinny, true, ffnHalves, downHalves);
                model.mark(StepProfile.Part.FFN_MATMUL);
            } else {
                w.gate[l].matmul(k, buf.xb, buf.hb, n, skinny);
                w.up[l].matmul(k, buf.xb, buf.hb2, n, skinny);
                model.mark(StepProfile.Part.FFN_MATMUL);
                k.launch(block.geluFeedForward() ? "geglu" : "swiglu", blocks(n * hidden), 1, 256, 0, buf.hb, buf.hb2, n * hidden);
                model.mark(StepProfile.Part.ELEMENTWISE);
            }
            boolean downResidual = !ownOutputs && reducesIntoResidual(w.down[l], n); // x += hb down^T, as Wo above
            int downSplits = 0;
            if (downResidual) {
                DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {w.down[l]}, buf.hb, n, skinny, downHalves, skinny.halves,
                        GroupEpilogue.residual(buf.x));
            } else {
                downSplits = l + 1 < layers && fuseReduceNorm() && !ownOutputs
                        ? w.down[l].matmulPartials(k, buf.hb, buf.xb, n, skinny, downHalves)
                        : matmulAll(w.down[l], buf.hb, buf.xb, n, downHalves);
            }
            model.mark(StepProfile.Part.FFN_MATMUL);
            if (postNorms) { // xb = rmsnorm(xb) * post_ffw_norm
                k.launch("rmsnorm", n, 1, 256, 0, buf.xb, null, w.postFfnNorm[l], buf.xb, dim, config.rmsEps());
                model.mark(StepProfile.Part.NORM);
            }
            if (residualScale != 1f) {
                k.launch("scale_inplace", blocks(n * dim), 1, 256, 0, buf.xb, residualScale, n * dim);
                model.mark(StepProfile.Part.ELEMENTWISE);
            }
            addFeedForwardOutput(l, n, downResidual, downSplits);
        }
        if (wantLogits) {
            // Final norm and classifier, only for the rows whose logits are wanted: xb [m, dim], logits [m, vocab]
            boolean headHalves = halvesFused() && w.output.readsHalves(m, skinny);
            rmsnorm(rows, m, w.outputNorm, headHalves ? w.output : null);
            model.mark(StepProfile.Part.NORM);
            w.output.matmul(k, buf.xb, buf.logits, m, skinny, headHalves);
            model.mark(StepProfile.Part.OUTPUT_MATMUL);
            if (block.finalSoftcap() > 0) { // Gemma 2: cap·tanh(logit / cap)
                k.launch("softcap_inplace", blocks(m * config.vocabSize()), 1, 256, 0, buf.logits, block.finalSoftcap(),
                        m * config.vocabSize());
                model.mark(StepProfile.Part.ELEMENTWISE);
            }
            if (block.logitScale() != 1f) { // Granite: logits / logit_scale, by the reciprocal as the CPU (and llama.cpp)
                k.launch("scale_inplace", blocks(m * config.vocabSize()), 1, 256, 0, buf.logits, 1f / block.logitScale(),
                        m * config.vocabSize());
                model.mark(StepProfile.Part.ELEMENTWISE);
            }
        }
    }

    /**
     * x += xb, the feed-forward block's output, and xb = rmsnorm(x) for the next layer's attention (one launch): its
     * split-K sums where the down product left {@code downSplits}; only the norm where the product added into x itself.
     */
    private void addFeedForwardOutput(int l, int n, boolean downResidual, int downSplits) {
        if (l + 1 < config.nLayers()) {
            DeviceMatrix nextQkv = qkvReadsHalves(l + 1, n) ? w.wq[l + 1] : null;
            if (downResidual) {
                rmsnorm(null, n, w.attnNorm[l + 1], nextQkv, model.skinny.halves);
            } else {
                addRmsnorm(downSplits, n, w.attnNorm[l + 1], nextQkv);
            }
            model.mark(StepProfile.Part.NORM);
        } else if (!downResidual) {
            k.launch("add_inplace", blocks(n * config.dim()), 1, 256, 0, buf.x, buf.xb, n * config.dim());
            model.mark(StepProfile.Part.ELEMENTWISE);
        }
    }

    void addQkvBiases(int l, int n) {
        if (w.bq != null) {
            int kvDim = config.kvDim();
            k.launch("add_bias", blocks(n * qDim), 1, 256, 0, buf.q, w.bq[l], n, qDim);
            k.launch("add_bias", blocks(n * kvDim), 1, 256, 0, buf.kBuf, w.bk[l], n, kvDim);
            k.launch("add_bias", blocks(n * kvDim), 1, 256, 0, buf.vBuf, w.bv[l], n, kvDim);
        }
    }

    /**
     * qwen3's QK-norm: every head of q [n, qDim] and k [n, kvDim] RMS-normalized in place with layer l's weights, one
     * rmsnorm block per head (the kernel reads a row whole before it writes it). Nothing for other models.
     */
    void normalizeQkHeads(int l, int n) {
        if (w.qNorm != null) {
            int hd = config.headDim();
            k.launch("rmsnorm", n * config.nHeads(), 1, 128, 0, buf.q, null, w.qNorm[l], buf.q, hd, config.rmsEps());
            k.launch("rmsnorm", n * config.nKvHeads(), 1, 128, 0, buf.kBuf, null, w.kNorm[l], buf.kBuf, hd, config.rmsEps());
        }
    }

    /**
     * q, k rotated in place by layer l's RoPE; token t's rotated key and its value into cache slot slots[t]
     * (rope_kv_store_*).
     */
    void ropeKvStore(int l, int n, Object positions, Object slots, Object keys, Object values, boolean f16Kv) {
        k.launch(f16Kv ? "rope_kv_store_f16" : "rope_kv_store_f32", n, 1, 256, 0, buf.q, buf.kBuf, buf.vBuf, positions, ropeTable(l),
                config.nHeads(), config.nKvHeads(), config.headDim(), RopeFrequencies.layout(config), slots, keys, values);
    }

    /**
     * The grouped Q/K/V product's split-K reduction (partial sums left in the model.skinny scratch with these split counts),
     * layer l's biases, RoPE and the KV write in one launch (splitk_reduce_rope_kv_*): bit for bit splitk_reduce_group,
     * add_bias and rope_kv_store.
     */
    void reduceRopeKv(int l, int n, int[] splits, Object positions, Object slots, Object keys, Object values,
                              boolean f16Kv) {
        int pairs = (config.nHeads() + 2 * config.nKvHeads()) * config.headDim() / 2;
        k.launch(f16Kv ? "splitk_reduce_rope_kv_f16" : "splitk_reduce_rope_kv_f32", n, (pairs + 255) / 256, 256, 0,
                model.skinny.partial, buf.q, buf.kBuf, buf.vBuf, w.bq == null ? null : w.bq[l], w.bk == null ? null : w.bk[l],
                w.bv == null ? null : w.bv[l], positions, ropeTable(l), slots, keys, values, DeviceMatrix.groupPad(n, model.skinny),
                config.nHeads(), config.nKvHeads(), config.headDim(), RopeFrequencies.layout(config), splits[0], splits[1],
                splits[2]);
    }

    /**
     * l2_prefetch of layer l's Wo, then equal prefixes of gate and up: {@code budget} bytes in all (only Wo in a mixture
     * of experts, whose experts are not known before the router has run).
     */
    void prefetchWeights(int l, long budget) {
        DeviceBuffer o = w.wo[l].streamData(model.skinny); // the copy the products read: packed or row-major
        if (w.mixture()) {
            k.launch("l2_prefetch", PREFETCH_BLOCKS, 1, 256, 0, o, Math.min(budget, o.bytes()), o, 0L, o, 0L);
            return;
        }
        DeviceBuffer gt = w.gate[l].streamData(model.skinny);
        DeviceBuffer u0 = w.up[l].streamData(model.skinny);
        long a = Math.min(budget, o.bytes());
        long g = Math.min((budget - a) / 2, gt.bytes());
        long u = Math.min(budget - a - g, u0.bytes());
        k.launch("l2_prefetch", PREFETCH_BLOCKS, 1, 256, 0, o, a, gt, g, u0, u);
    }

    /** Blocks of l2_prefetch: about two per SM of an H100/H200, each thread issuing a few prefetches. */
    private static final int PREFETCH_BLOCKS = 264;

    /**
     * Whether a grouped product reduces its own sums in this step: the choice is on, the streaming kernels run, and for
     * Q/K/V ({@code qkv}) a 128-row block holds whole heads.
     */
    boolean reducesInProduct(boolean qkv) {
        return model.productReduction && model.skinny != null && model.skinny.kernels.streaming
                && model.skinny.counters != null
                && (!qkv || GroupEpilogue.ropeFits(config.headDim()));
    }

    /**
     * Whether the single product m (Wo or down) of n tokens adds its own sums into the residual stream
     * ({@link GroupEpilogue#residual}): the products reduce their own sums, m takes the streaming product at n tokens,
     * and the scratch has an arrival counter for each of its 128-row blocks. The next norm then reads x alone.
     */
    boolean reducesIntoResidual(DeviceMatrix m, int n) {
        return reducesInProduct(false) && DeviceMatrix.groupable(n, m) && model.skinny.countsBlocksOf(m.rows());
    }

    /** Layer l's Q/K/V epilogue: biases, RoPE at the tokens' positions, keys and values into cache rows slots[t]. */
    GroupEpilogue ropeKvEpilogue(int l, Object positions, Object slots, Object keys, Object values, boolean f16Kv) {
        return GroupEpilogue.ropeKv(buf.q, buf.kBuf, buf.vBuf, w.bq == null ? null : w.bq[l], w.bk == null ? null : w.bk[l],
                w.bv == null ? null : w.bv[l], positions, ropeTable(l), slots, keys, values, f16Kv, config.headDim(),
                RopeFrequencies.layout(config));
    }

    /** y = x . m^T with the step's product kernels; 0 splits left unreduced (see {@link #addRmsnorm}). */
    int matmulAll(DeviceMatrix m, DeviceBuffer xIn, DeviceBuffer y, int n, boolean halvesReady) {
        m.matmul(k, xIn, y, n, model.skinny, halvesReady);
        return 0;
    }

    /**
     * xb [r] = rmsnorm(x [rows[r]]) * w for r < n (rows null: r itself); with a {@code consumer}, also its padded
     * 16-bit activations in the model.skinny scratch (rmsnorm_vec_h_*: {@link #halvesFused}).
     */
    void rmsnorm(CUdeviceptr rows, int n, DeviceBuffer w, DeviceMatrix consumer) {
        rmsnorm(rows, n, w, consumer, model.skinny == null ? null : model.skinny.halves);
    }

    /** {@link #rmsnorm(CUdeviceptr, int, DeviceBuffer, DeviceMatrix)} writing the 16-bit copy into {@code halves}. */
    void rmsnorm(CUdeviceptr rows, int n, DeviceBuffer w, DeviceMatrix consumer, DeviceBuffer halves) {
        int dim = config.dim();
        if (consumer != null) {
            k.launch("rmsnorm_vec_h_" + consumer.halfSuffix(), DeviceMatrix.streamPad(n), 1, 256, 0, buf.x, rows, w, buf.xb,
                    halves, n, dim, config.rmsEps());
        } else {
            k.launch(model.vectorNorm ? "rmsnorm_vec" : "rmsnorm", n, 1, 256, 0, buf.x, rows, w, buf.xb, dim, config.rmsEps());
        }
    }

    /**
     * x += xb; xb = rmsnorm(x) * w: from xb itself (splits 0), or from the split-K partial sums the streaming product
     * left in the model.skinny scratch (add_rmsnorm_splitk_vec, bit for bit the reduction followed by add_rmsnorm_vec). With a
     * {@code consumer} (the next product, which then reads them: {@link #halvesFused}), the _h kernel also writes xb's
     * padded 16-bit copy into the model.skinny scratch in the consumer's type.
     */
    void addRmsnorm(int splits, int n, DeviceBuffer w, DeviceMatrix consumer) {
        addRmsnorm(splits, n, w, consumer, model.skinny == null ? null : model.skinny.halves);
    }

    /** {@link #addRmsnorm(int, int, DeviceBuffer, DeviceMatrix)} writing the 16-bit copy into {@code halves}. */
    void addRmsnorm(int splits, int n, DeviceBuffer w, DeviceMatrix consumer, DeviceBuffer halves) {
        int dim = config.dim();
        float eps = config.rmsEps();
        String h = consumer == null ? "" : "_h_" + consumer.halfSuffix();
        int grid = consumer == null ? n : DeviceMatrix.streamPad(n);
        if (splits > 0 && consumer != null) {
            k.launch("add_rmsnorm_splitk_vec" + h, grid, 1, 256, 0, buf.x, model.skinny.partial, splits, DeviceMatrix.streamPad(n), w, buf.xb,
                    halves, n, dim, eps);
        } else if (splits > 0) {
            k.launch("add_rmsnorm_splitk_vec", n, 1, 256, 0, buf.x, model.skinny.partial, splits, DeviceMatrix.streamPad(n), w, buf.xb, dim,
                    eps);
        } else if (consumer != null) {
            k.launch("add_rmsnorm_vec" + h, grid, 1, 256, 0, buf.x, buf.xb, w, buf.xb, halves, n, dim, eps);
        } else {
            k.launch(model.vectorNorm ? "add_rmsnorm_vec" : "add_rmsnorm", n, 1, 256, 0, buf.x, buf.xb, w, buf.xb, dim, eps);
        }
    }

    /**
     * Whether the norms and the SwiGLU reduction write the streaming products' padded 16-bit activations themselves
     * (the _h kernels) instead of a to_half_padded launch before each product: chosen at load
     * ({@link EpilogueKernelChoices#chooseFusedHalves}); needs the vector norms and the streaming product.
     */
    boolean halvesFused() {
        return model.fusedHalves && model.vectorNorm && model.skinny != null && model.skinny.kernels.streaming;
    }

    /** Whether layer l's grouped Q/K/V product of n tokens reads the 16-bit activations its norm wrote. */
    boolean qkvReadsHalves(int l, int n) {
        return halvesFused() && model.groupedSkinny && DeviceMatrix.groupable(n, w.wq[l], w.wk[l], w.wv[l]);
    }

    /** Whether layer l's Wo product of n tokens reads the 16-bit attention output the split attention wrote. */
    boolean woReadsHalves(int l, int n) {
        return halvesFused() && model.useSplitAttention && splitAttention != null && w.wo[l].readsHalves(n, model.skinny);
    }

    /** Whether layer l's grouped gate/up product (SwiGLU in its reduction) reads the 16-bit activations of its norm. */
    boolean ffnReadsHalves(int l, int n) {
        return !w.mixture() && halvesFused() && model.groupedSkinny && DeviceMatrix.groupable(n, w.gate[l], w.up[l]) && w.gate[l].rows() == w.up[l].rows()
                && !config.block().geluFeedForward(); // GeGLU takes the separate products and kernel
    }

    /** Whether layer l's down product reads the 16-bit activations the SwiGLU reduction wrote. */
    boolean downReadsHalves(int l, int n) {
        return ffnReadsHalves(l, n) && w.down[l].readsHalves(n, model.skinny) && w.down[l].type() == w.gate[l].type();
    }

    /**
     * Whether the Wo and down products hand their split-K partial sums to the next norm (one launch less each): with
     * the streaming product and the vector norms, when chosen at load ({@link EpilogueKernelChoices#chooseFusedNorm}) or {@link CudaLlamaModel#useFusedNorm}.
     */
    boolean fuseReduceNorm() {
        return model.fuseNorm && model.vectorNorm && model.skinny != null && model.skinny.kernels.streaming;
    }

    /**
     * The attention kernels of one block (or warp) per (token, query head): attention_vec for power-of-two head sizes,
     * attention otherwise. out [n, qDim] from q [n, qDim] and one layer's paged keys/values.
     */
    void launchPerHeadAttention(boolean f16Kv, Object qIn, Object keys, Object values, Object positions,
                                        Object seq, Object tables, int maxBlocks, int bs, Object out, int n) {
        launchPerHeadAttention(f16Kv, qIn, keys, values, positions, seq, tables, maxBlocks, bs, out, n, 0, 0f);
    }

    /**
     * {@link #launchPerHeadAttention}, each token attending to its last {@code window} positions (0: all of them), each
     * score soft-capped where {@code softcap} &gt; 0 (Gemma 2).
     */
    void launchPerHeadAttention(boolean f16Kv, Object qIn, Object keys, Object values, Object positions,
                                        Object seq, Object tables, int maxBlocks, int bs, Object out, int n, int window,
                                        float softcap) {
        int heads = config.nHeads();
        int headDim = config.headDim();
        float scale = config.qkScale(); // 1/sqrt(headDim), or the model's own
        if (vectorAttention(headDim)) {
            k.launch(f16Kv ? "attention_vec_f16" : "attention_vec_f32", n * heads, 1, 32 * ATT_WARPS, 0, qIn, keys,
                    values, positions, seq, tables, maxBlocks, bs, out, n, heads, config.nKvHeads(), headDim, scale, window, softcap);
        } else {
            int warpsPerBlock = 4;
            k.launch(f16Kv ? "attention_f16" : "attention_f32", (n * heads + warpsPerBlock - 1) / warpsPerBlock, 1,
                    32 * warpsPerBlock, warpsPerBlock * headDim * 4, qIn, keys, values, positions, seq, tables,
                    maxBlocks, bs, out, n, heads, config.nKvHeads(), headDim, scale, window, softcap);
        }
    }

    /** Layer l's RoPE table: the sliding layers' own where the model has one (Gemma 3), else the model's. */
    DeviceBuffer ropeTable(int l) {
        SlidingWindow sw = config.block().window();
        return w.invFreqSliding != null && sw.slides(l) ? w.invFreqSliding : w.invFreq;
    }

    /**
     * The positions a token of layer l attends to, its own included: the model's sliding window where layer l slides
     * (Phi-3-mini-4k: 2047 in every layer), else 0 (the whole context).
     */
    int window(int l) {
        SlidingWindow sw = config.block().window();
        return sw != null && sw.slides(l) && sw.size() < config.contextLength() ? sw.size() : 0;
    }

    /** Whether the vectorised norms (rmsnorm_vec, add_rmsnorm_vec: float4 pieces, at most 4 per thread of 256) fit dim. */
    static boolean vectorNormFits(int dim) {
        return dim % 4 == 0 && dim <= 4 * 256 * 4;
    }

    /** Head sizes attention_vec serves: 8 dims per lane, a power-of-two number of lanes per position. */
    static boolean vectorAttention(int headDim) {
        return headDim >= 8 && headDim <= DeviceSupport.MAX_HEAD_DIM && Integer.bitCount(headDim) == 1;
    }

    private String embedName(DeviceMatrix e) {
        return switch (e.type()) {
            case F32 -> "embed_f32";
            case F16 -> "embed_f16";
            case BF16 -> "embed_bf16";
            case Q8_0 -> "embed_q8_0";
            case Q4_K -> "embed_q4_k";
            case Q6_K -> "embed_q6_k";
            default -> throw new AssertionError(e.type());
        };
    }

    private Object embeddingData() {
        return w.embedding.data();
    }

    private Object embeddingScales() {
        return w.embedding.scales();
    }
}
