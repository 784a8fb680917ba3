package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;

import jcuda.driver.CUdeviceptr;

/**
 * The load-time choices of the kernels around a model's matrix products: the attention and norm kernels (and the tiled
 * attention for prefill steps), the norms
 * and reductions that write the products' 16-bit activations, the Q/K/V reduction fused with RoPE and the KV write,
 * the split-K reduction fused into the next norm, and the L2 prefetch of weights during the attention. Made after the
 * product choices ({@link ProductKernelChoices}), whose kernels they feed; adopted, like those, only when equal and
 * faster, with the reason in each {@code ...Choice} string.
 */
final class EpilogueKernelChoices extends KernelTrials {

    // What each choice decided and why (the model's kernelChoices() shows them)
    String attentionChoice = "attention_vec (not compared)";
    String tiledAttentionChoice = "the decode kernel (not compared)";
    String attentionPrefetchChoice = "not compared";
    String fusedHalvesChoice = "separate conversions (not compared)";
    String fusedRopeChoice = "not compared";
    String productReductionChoice = "not compared";
    String fusedNormChoice = "not compared";
    String l2PrefetchChoice = "not compared";

    EpilogueKernelChoices(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs) {
        super(model, w, buf, graphs);
    }

    /**
     * Decides the attention kernel and the norm kernels at load, like {@link ProductKernelChoices#chooseDeepSplit}: each new kernel runs
     * next to the proven one on the same random inputs and is adopted only when its results are within a float
     * tolerance of the old one's (max abs difference over max abs value; the order of the sums differs, a wrong
     * index gives errors of order 1) and it is faster, timed as CUDA graph replays.
     * <ul>
     * <li>Attention: up to 64 decode tokens of as many sequences, contexts 1..192 (0, 15, 16, 17 and 191 among the
     * positions), blocks of 16 over interleaved block tables, F16 and F32 KV (both compared, F16 timed, as the
     * engine runs); tolerance 1e-4. -Dinferstream.cuda.attention=split|old forces it.</li>
     * <li>Norms: rmsnorm_vec and add_rmsnorm_vec against rmsnorm and add_rmsnorm on the same rows; tolerance 1e-5.
     * -Dinferstream.cuda.norm=vec|old forces them.</li>
     * </ul>
     * {@link #attentionChoice()} (printed by the bench) says what was chosen, with both timings and the difference.
     */
    void chooseAttention() {
        int n = Math.min(64, buf.capacity);
        StringBuilder why = new StringBuilder();
        String forcedNorm = System.getProperty("inferstream.cuda.norm");
        if (!ForwardPass.vectorNormFits(config.dim())) {
            why.append("norms: rmsnorm (dim ").append(config.dim()).append(" does not fit the vectorised kernels)");
        } else if (forcedNorm != null) {
            model.useVectorNorm("vec".equals(forcedNorm));
            why.append("norms: ").append(model.vectorNorm ? "rmsnorm_vec" : "rmsnorm")
                    .append(" (forced by -Dinferstream.cuda.norm=").append(forcedNorm).append(")");
        } else {
            try {
                compareNorms(n, why);
            } catch (RuntimeException e) { // a launch the driver refuses: keep the proven kernels
                model.useVectorNorm(false);
                why.append("norms: rmsnorm (rmsnorm_vec failed at load: ").append(e.getMessage()).append(")");
            }
        }
        why.append("; ");
        String forced = System.getProperty("inferstream.cuda.attention");
        String perHead = ForwardPass.vectorAttention(config.headDim()) ? "attention_vec" : "attention";
        if (model.splitAttention == null) {
            why.append("attention: ").append(perHead).append(" (split kernel: ")
                    .append(SplitAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()))
                    .append("; not compared)");
        } else if (forced != null) {
            model.useSplitAttention("split".equals(forced));
            why.append("attention: ").append(model.useSplitAttention ? "attention_split" : perHead)
                    .append(" (forced by -Dinferstream.cuda.attention=").append(forced).append(")");
        } else {
            try {
                compareAttention(n, perHead, why);
            } catch (RuntimeException e) { // a launch the driver refuses: keep the proven kernel
                model.useSplitAttention(false);
                why.append("attention: ").append(perHead).append(" (attention_split failed at load: ")
                        .append(e.getMessage()).append(")");
            }
        }
        attentionChoice = why.toString();
    }

    /**
     * Decides where the tiled attention runs: prefill steps (a run of {@link TiledAttention#MIN_RUN}+ tokens of one
     * sequence) and, separately, the other steps (decode: items of one token, where its double-buffered key/value tiles
     * keep more loads in flight than the decode kernel's rounds, but 60 of its 64 query rows are idle). Each on its own
     * fixture through the kernel decode steps use (chooseAttention's) and the tiled one: one sequence's chunk of up to
     * 256 tokens at positions 768.. (contexts up to 1024), and up to 64 decode tokens at contexts 1..192; adopted when
     * within {@link TiledAttention#TOLERANCE} over F16 and F32 KV (the tiled kernel rounds Q and P, and an F32 cache's
     * K and V, to F16) and faster as CUDA graph replays with F16 KV. -Dinferstream.cuda.tiledAttention=on|off and -Dinferstream.cuda.tiledDecode=on|off force them.
     */
    void chooseTiledAttention() {
        if (model.tiledAttention == null) {
            model.useTiledAttention(false);
            model.useTiledDecode(false);
            tiledAttentionChoice = "the decode kernel (tiled kernel: "
                    + TiledAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()) + "; not compared)";
            return;
        }
        String other = model.useSplitAttention ? "attention_split"
                : ForwardPass.vectorAttention(config.headDim()) ? "attention_vec" : "attention";
        StringBuilder why = new StringBuilder("prefill steps: ");
        String forced = CudaLlamaModel.onOff("inferstream.cuda.tiledAttention");
        if (forced != null) {
            model.useTiledAttention("on".equals(forced));
            why.append(model.useTiledAttention ? "attention_tiled" : other)
                    .append(" (forced by -Dinferstream.cuda.tiledAttention=").append(forced).append(")");
        } else {
            int n = Math.min(256, buf.capacity);
            int start = 768;
            try (AttentionFixture fx = AttentionFixture.prefill(n, start, qDim, config.kvDim(), 43)) {
                boolean on = compareTiled(fx, n, other, why, String.format(java.util.Locale.ROOT,
                        "one sequence's %d-token chunk at positions %d..%d", n, start, start + n - 1));
                model.useTiledAttention(on);
            }
        }
        why.append("; other steps: ");
        String forcedDecode = CudaLlamaModel.onOff("inferstream.cuda.tiledDecode");
        if (forcedDecode != null) {
            model.useTiledDecode("on".equals(forcedDecode));
            why.append(model.useTiledDecode ? "attention_tiled" : other)
                    .append(" (forced by -Dinferstream.cuda.tiledDecode=").append(forcedDecode).append(")");
        } else {
            int n = Math.min(64, buf.capacity);
            try (AttentionFixture fx = AttentionFixture.decode(n, qDim, config.kvDim(), 47)) {
                boolean on = compareTiled(fx, n, other, why, n + " decode tokens, contexts 1.." + fx.maxBlocks()
                        * AttentionFixture.BLOCK_SIZE);
                model.useTiledDecode(on);
            }
        }
        tiledAttentionChoice = why.toString();
    }

    /**
     * The fixture's attention through {@code other} (the decode kernel chosen at load) and through the tiled kernel, F16
     * and F32 KV compared, F16 timed: true when the tiled one is within tolerance and faster as CUDA graph replays;
     * appends both timings.
     */
    private boolean compareTiled(AttentionFixture fx, int n, String other, StringBuilder why, String what) {
        int bs = AttentionFixture.BLOCK_SIZE;
        int maxBlocks = fx.maxBlocks();
        float scale = config.qkScale();
        int splits = SplitAttention.splits(n, config.nKvHeads());
        int[] items = TiledAttention.plan(fx.seqs(), fx.positionsOnHost(), n, model.tiledAttention.tokensPerItem());
        List<DeviceBuffer> temp = new ArrayList<>();
        try {
            DeviceBuffer itemData = temp(temp, 4L * items.length, null);
            itemData.upload(items, items.length);
            DeviceBuffer out = temp(temp, 4L * n * qDim, null);
            // way v (1: tiled) over the F16 (f == 0) or F32 (f == 1) cache
            java.util.function.BiConsumer<Integer, Integer> run = (v, f) -> {
                boolean f16 = f == 0;
                DeviceBuffer keys = fx.keys(f16);
                DeviceBuffer values = fx.values(f16);
                if (v == 1) {
                    model.tiledAttention.launch(k, f16, fx.q, keys, values, fx.positions(), fx.seq(), fx.tables(), maxBlocks,
                            bs, itemData, items.length / 2, out, n, scale, null, null, n, 0, 0f);
                } else if (model.useSplitAttention) {
                    model.splitAttention.launch(k, f16, fx.q, keys, values, fx.positions(), fx.seq(), fx.tables(), maxBlocks,
                            bs, out, n, scale, splits);
                } else {
                    model.pass.launchPerHeadAttention(f16, fx.q, keys, values, fx.positions(), fx.seq(), fx.tables(), maxBlocks, bs,
                            out, n);
                }
            };
            java.util.function.IntConsumer launches = v -> run.accept(v, 0);
            double diff = 0;
            for (int f = 0; f < 2; f++) {
                float[][] got = new float[2][n * qDim];
                for (int v = 0; v < 2; v++) {
                    run.accept(v, f);
                    device.synchronize();
                    out.download(got[v], got[v].length);
                }
                diff = Math.max(diff, relativeDifference(got[1], got[0]));
            }
            int reps = Math.max(1, CHOICE_REPS / 2); // 10: a prefill chunk's attention is long enough to time
            WithinTolerance both = new WithinTolerance(diff, TiledAttention.TOLERANCE, timed(launches, reps));
            why.append(String.format(java.util.Locale.ROOT,
                    "%s (%s, %d items, F16 KV timed, %d CUDA graph replays: %s %.1f us, attention_tiled %.1f us; max "
                            + "relative difference over F16 and F32 KV %.2e, tolerance %.0e%s)",
                    both.adopt() ? "attention_tiled" : other, what, items.length / 2, reps, other, both.nanos()[0] / 1e3 / reps,
                    both.nanos()[1] / 1e3 / reps, diff, TiledAttention.TOLERANCE, both.verdict()));
            return both.adopt();
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    /**
     * Decides whether the split attention loads each round's key and value rows a round ahead of its arithmetic (the
     * _pf kernels: the same arithmetic, so the same bits; more registers). 64 decode tokens at contexts 1..192 over
     * F16 and F32 caches ({@link AttentionFixture#decode}), both ways; adopted when the outputs are bitwise equal and
     * the _pf kernel is faster as CUDA graphs (F16 KV timed). -Dinferstream.cuda.attentionPrefetch=on|off forces it.
     */
    void chooseAttentionPrefetch() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.attentionPrefetch");
        if (model.splitAttention == null) {
            attentionPrefetchChoice = "no split attention for these heads; not compared";
            return;
        }
        if (forced != null) {
            model.useAttentionPrefetch("on".equals(forced));
            attentionPrefetchChoice = "forced by -Dinferstream.cuda.attentionPrefetch=" + forced;
            return;
        }
        int n = Math.min(64, buf.capacity);
        int bs = AttentionFixture.BLOCK_SIZE;
        SplitAttention split = model.splitAttention;
        List<DeviceBuffer> temp = new ArrayList<>();
        try (AttentionFixture fx = AttentionFixture.decode(n, qDim, config.kvDim(), 23)) {
            DeviceBuffer out = temp(temp, 4L * n * qDim, null);
            float scale = config.qkScale();
            int splits = SplitAttention.splits(n, config.nKvHeads());
            BothWays result = null;
            for (boolean f16 : new boolean[] {true, false}) {
                java.util.function.IntConsumer chain = v -> {
                    split.prefetch = v == 1;
                    split.launch(k, f16, fx.q, f16 ? fx.keys16 : fx.keys32, f16 ? fx.values16 : fx.values32, fx.positions(),
                            fx.seq(), fx.tables(), fx.maxBlocks(), bs, out, n, scale, splits);
                };
                BothWays r = bothWays(chain, out::poison, new DeviceBuffer[] {out}, new int[] {n * qDim});
                result = result == null ? r : result.and(r); // F16's timings, both precisions' bits
            }
            split.prefetch = false;
            model.useAttentionPrefetch(result.adopt());
            model.bufferGeneration++;
            attentionPrefetchChoice = n + " decode tokens, contexts 1.." + fx.maxBlocks() * bs + ", " + splits + " splits, "
                    + result.outcome("attention_split", "attention_split_pf");
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    private void compareAttention(int n, String perHead, StringBuilder why) {
        int bs = AttentionFixture.BLOCK_SIZE;
        List<DeviceBuffer> temp = new ArrayList<>();
        try (AttentionFixture fx = AttentionFixture.decode(n, qDim, config.kvDim(), 17)) {
            int maxBlocks = fx.maxBlocks();
            DeviceBuffer qd = fx.q;
            DeviceBuffer k16 = fx.keys16;
            DeviceBuffer v16 = fx.values16;
            DeviceBuffer k32 = fx.keys32;
            DeviceBuffer v32 = fx.values32;
            DeviceBuffer out = temp(temp, 4L * n * qDim, null);
            var positions = fx.positions();
            var seq = fx.seq();
            var tables = fx.tables();
            float scale = config.qkScale();
            int splits = SplitAttention.splits(n, config.nKvHeads());
            double worst = 0;
            for (int p = 0; p < 2; p++) {
                boolean f16 = p == 0;
                float[][] got = new float[2][n * qDim];
                for (int v = 0; v < 2; v++) {
                    if (v == 0) {
                        model.pass.launchPerHeadAttention(f16, qd, f16 ? k16 : k32, f16 ? v16 : v32, positions, seq, tables,
                                maxBlocks, bs, out, n);
                    } else {
                        model.splitAttention.launch(k, f16, qd, f16 ? k16 : k32, f16 ? v16 : v32, positions, seq, tables,
                                maxBlocks, bs, out, n, scale, splits);
                    }
                    device.synchronize();
                    out.download(got[v], got[v].length);
                }
                worst = Math.max(worst, relativeDifference(got[1], got[0]));
            }
            java.util.function.IntConsumer launches = v -> {
                if (v == 0) {
                    model.pass.launchPerHeadAttention(true, qd, k16, v16, positions, seq, tables, maxBlocks, bs, out, n);
                } else {
                    model.splitAttention.launch(k, true, qd, k16, v16, positions, seq, tables, maxBlocks, bs, out, n, scale, splits);
                }
            };
            int reps = CHOICE_REPS;
            long[] nanos = timed(launches, reps);
            boolean close = worst <= 1e-4;
            model.useSplitAttention(close && nanos[1] < nanos[0]);
            why.append(String.format(java.util.Locale.ROOT,
                    "attention: %s (%d decode tokens, contexts 1..%d, F16 KV, %d splits, %d CUDA graph replays: %s %.1f us, "
                            + "attention_split %.1f us; max relative difference %.2e over F16 and F32 KV%s)",
                    model.useSplitAttention ? "attention_split" : perHead, n, maxBlocks * bs, splits, reps, perHead,
                    nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst, close ? "" : ": DIFFER, split kernel not used"));
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    private void compareNorms(int n, StringBuilder why) {
        int dim = config.dim();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(19);
        float[] xs = new float[n * dim];
        float[] ys = new float[n * dim];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
            ys[i] = (float) rnd.nextDouble(-1, 1);
        }
        List<DeviceBuffer> temp = new ArrayList<>();
        try {
            DeviceBuffer xd = temp(temp, 4L * xs.length, xs);
            DeviceBuffer yd = temp(temp, 4L * ys.length, ys);
            DeviceBuffer o1 = temp(temp, 4L * xs.length, null);
            DeviceBuffer o2 = temp(temp, 4L * xs.length, null);
            java.util.function.IntConsumer launches = v -> {
                k.launch(v == 0 ? "rmsnorm" : "rmsnorm_vec", n, 1, 256, 0, xd, null, w.attnNorm[0], o1, dim, config.rmsEps());
                k.launch(v == 0 ? "add_rmsnorm" : "add_rmsnorm_vec", n, 1, 256, 0, xd, yd, w.ffnNorm[0], o2, dim,
                        config.rmsEps());
            };
            double worst = 0;
            float[][][] got = new float[2][3][xs.length];
            for (int v = 0; v < 2; v++) {
                xd.upload(xs, xs.length);
                launches.accept(v);
                device.synchronize();
                o1.download(got[v][0], xs.length);
                o2.download(got[v][1], xs.length);
                xd.download(got[v][2], xs.length);
            }
            for (int o = 0; o < 3; o++) {
                worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
            }
            int reps = CHOICE_REPS;
            long[] nanos = timed(launches, reps);
            boolean close = worst <= 1e-5;
            model.useVectorNorm(close && nanos[1] < nanos[0]);
            why.append(String.format(java.util.Locale.ROOT,
                    "norms: %s (rmsnorm + add_rmsnorm of %d rows, %d CUDA graph replays: %.1f us, vectorised %.1f us; "
                            + "max relative difference %.2e%s)", model.vectorNorm ? "rmsnorm_vec" : "rmsnorm", n, reps,
                    nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst, close ? "" : ": DIFFER, not used"));
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    /**
     * Decides whether the norms and the SwiGLU reduction write the padded 16-bit activations of the streaming products
     * (the split attention writes Wo's too: 4 launches fewer per layer and one for the output head; run 6 on an H200
     * spent 65 to_half_padded launches and
     * 0.21 ms of one 2.6 ms c = 64 step on them). The _h kernels round the same floats as to_half_padded, so the results
     * must be bit for bit the same: layer 0's chain (split attention and Wo; residual add and norm, grouped Q/K/V; norm,
     * grouped gate/up with SwiGLU, down; the final norm over shuffled rows and the output head) runs both ways on 64
     * random tokens (the attention over a random F16 cache: {@link AttentionFixture}), and the
     * fused way is adopted only when every output is bitwise equal and it is faster as CUDA graphs.
     * -Dinferstream.cuda.fuseHalves=on|off forces it.
     */
    void chooseFusedHalves() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.fuseHalves");
        if (forced != null) {
            model.useFusedHalves("on".equals(forced));
            fusedHalvesChoice = "forced by -Dinferstream.cuda.fuseHalves=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        int dim = config.dim();
        int hidden = config.hiddenDim();
        model.fusedHalves = true; // what the step would do with it on
        boolean applies = model.pass.halvesFused() && model.pass.qkvReadsHalves(0, n) && model.pass.downReadsHalves(0, n) && hidden >= dim;
        boolean head = applies && w.output.readsHalves(n, model.skinny);
        boolean attention = applies && model.pass.woReadsHalves(0, n);
        model.fusedHalves = false;
        if (!applies) {
            fusedHalvesChoice = "layer 0's products of " + n + " tokens do not all read the streaming product's "
                    + "activations (vector norms, matmul_stream and the grouped products needed); not compared";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(29);
        float[] x0 = new float[n * dim];
        float[] y0 = new float[n * dim];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = (float) rnd.nextDouble(-2, 2);
            y0[i] = (float) rnd.nextDouble(-2, 2);
        }
        int[] shuffled = new int[n];
        for (int r = 0; r < n; r++) {
            shuffled[r] = n - 1 - r; // the head's rows through the index, as steps pick their last tokens
        }
        int vocab = config.vocabSize();
        DeviceBuffer[] outs = {buf.x, buf.q, buf.kBuf, buf.vBuf, buf.hb, buf.hb2, buf.logits, buf.att, buf.xb};
        int[] lengths = {n * dim, n * w.wq[0].rows(), n * w.wk[0].rows(), n * w.wv[0].rows(), n * hidden, n * dim,
                head ? n * vocab : 0, attention ? n * qDim : 0, n * dim};
        try (DeviceBuffer rowIndex = DeviceBuffer.allocate(4L * n, "fused halves check rows");
             AttentionFixture fx = attention ? AttentionFixture.decode(n, qDim, config.kvDim(), 37) : null) {
            rowIndex.upload(shuffled, n);
            java.util.function.IntConsumer chain = v -> {
                model.fusedHalves = v == 1;
                if (attention) { // split attention (F16 KV) -> att and its 16-bit copy -> Wo -> xb
                    boolean h = model.pass.woReadsHalves(0, n);
                    model.splitAttention.launch(k, true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            fx.maxBlocks(), AttentionFixture.BLOCK_SIZE, buf.att, n,
                            config.qkScale(), SplitAttention.splits(n, config.nKvHeads()),
                            h ? model.skinny.halves : null, w.wo[0].type(), DeviceMatrix.streamPad(n), 0, 0f);
                    w.wo[0].matmul(k, buf.att, buf.xb, n, model.skinny, h);
                }
                // x += xb; xb = norm(x) -> grouped Q/K/V
                model.pass.addRmsnorm(0, n, w.ffnNorm[0], model.pass.qkvReadsHalves(0, n) ? w.wq[0] : null);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf},
                        n, model.skinny, false, model.pass.qkvReadsHalves(0, n), false);
                // xb = norm(x) -> gate/up with SwiGLU -> hb -> down -> hb2 [n, dim]
                model.pass.rmsnorm(null, n, w.attnNorm[0], model.pass.ffnReadsHalves(0, n) ? w.gate[0] : null);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n, model.skinny,
                        true, model.pass.ffnReadsHalves(0, n), model.pass.downReadsHalves(0, n));
                w.down[0].matmul(k, buf.hb, buf.hb2, n, model.skinny, model.pass.downReadsHalves(0, n));
                if (head) { // the final norm over shuffled rows -> the output head
                    boolean h = model.pass.halvesFused();
                    model.pass.rmsnorm(rowIndex.pointer(), n, w.outputNorm, h ? w.output : null);
                    w.output.matmul(k, buf.xb, buf.logits, n, model.skinny, h);
                }
            };
            BothWays r = bothWays(chain, () -> {
                buf.x.upload(x0, x0.length);
                buf.xb.upload(y0, y0.length);
            }, outs, lengths); // graph replays: x grows by a normalised row each, stays finite
            model.fusedHalves = false;
            model.useFusedHalves(r.adopt());
            model.bufferGeneration++;
            fusedHalvesChoice = "layer 0's chain" + (attention ? " with the attention" : "") + (head ? " and the output head" : "")
                    + ", " + n + " tokens, " + r.outcome("separate conversions", "written by the producers");
        }
    }

    /**
     * Decides whether the grouped Q/K/V product's split-K reduction also adds the biases, applies RoPE and writes the
     * KV cache (splitk_reduce_rope_kv_*: one launch instead of two to five; run 6 on an H200 had rope_kv_store at
     * 8 us per layer of a c = 64 step, one block per token). Same arithmetic in the same order, so the results must be
     * bit for bit the same: layer 0's grouped product of 64 random tokens at random positions, written to shuffled
     * cache slots, runs both ways with F16 and with F32 KV; q, k, v and the cache rows must be bitwise equal, and the
     * fused way is adopted only when also faster as CUDA graphs (F16 KV). -Dinferstream.cuda.fuseRope=on|off forces it.
     */
    void chooseFusedRope() {
        if (w.qNorm != null) {
            model.useFusedRope(false);
            fusedRopeChoice = "off: the model normalizes every Q/K head between the product and RoPE (QK-norm)";
            return;
        }
        String forced = CudaLlamaModel.onOff("inferstream.cuda.fuseRope");
        if (forced != null) {
            model.useFusedRope("on".equals(forced));
            fusedRopeChoice = "forced by -Dinferstream.cuda.fuseRope=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        if (model.skinny == null || !model.groupedSkinny || !DeviceMatrix.groupable(n, w.wq[0], w.wk[0], w.wv[0])) {
            fusedRopeChoice = "layer 0's Q/K/V do not take the grouped product at " + n + " tokens; not compared";
            return;
        }
        int dim = config.dim();
        int kvDim = config.kvDim();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(31);
        float[] xs = uniform(rnd, n * dim);
        DeviceMatrix[] qkv = {w.wq[0], w.wk[0], w.wv[0]};
        try (RopeCheck rc = RopeCheck.of(rnd, n, kvDim, t -> n - 1 - t, "fused rope check")) {
            CUdeviceptr positions = rc.positions();
            CUdeviceptr slots = rc.slots();
            DeviceBuffer keys = rc.keys();
            DeviceBuffer values = rc.values();
            buf.xb.upload(xs, xs.length);
            BothWays[] runs = new BothWays[2]; // F16 KV, F32 KV
            for (boolean f16 : new boolean[] {true, false}) {
                java.util.function.IntConsumer chain = v -> {
                    if (v == 1) {
                        int[] splits = DeviceMatrix.skinnyGroupPartials(k, qkv, buf.xb, n, model.skinny, false);
                        model.pass.reduceRopeKv(0, n, splits, positions, slots, keys, values, f16);
                    } else {
                        DeviceMatrix.skinnyGroup(k, qkv, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf}, n, model.skinny, false);
                        model.pass.addQkvBiases(0, n);
                        model.pass.ropeKvStore(0, n, positions, slots, keys, values, f16);
                    }
                };
                DeviceBuffer[] outs = {buf.q, buf.kBuf, buf.vBuf, keys, values};
                int cache = f16 ? n * kvDim / 2 : n * kvDim; // words of the cache rows (kvDim is even)
                runs[f16 ? 0 : 1] = bothWays(chain, () -> { }, outs, new int[] {n * qDim, n * kvDim, n * kvDim, cache, cache});
            }
            BothWays r = runs[0].and(runs[1]); // F16's timings, both precisions' bits
            model.useFusedRope(r.adopt());
            model.bufferGeneration++;
            fusedRopeChoice = "layer 0's grouped Q/K/V (q, k, v and the cache rows, F16 and F32 KV; timed with F16), " + n
                    + " tokens, " + r.outcome("separate", "fused");
        }
    }

    /**
     * Decides whether the streaming products reduce their own partial sums ({@link GroupEpilogue}: the block that stores
     * a row block's last partial sums reduces them, so the reduction kernel after the product goes, up to 4 launches per
     * layer). Layer 0's gate/up with SwiGLU (and down's 16-bit activations where the model has the SwiGLU reduction
     * write them), when the fused Q/K/V reduction is on and a 128-row block holds whole heads its Q/K/V with biases,
     * RoPE and the KV write (F16 and F32 KV), and its Wo and down adding into the residual stream (against the product,
     * its reduction and add_inplace), 64 random tokens, both ways from outputs poisoned with 0xFF bytes; adopted
     * only when every output is bitwise equal and the way in the products is faster as CUDA graphs (F16 KV timed).
     * -Dinferstream.cuda.productReduction=on|off forces it.
     */
    void chooseProductReduction() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.productReduction");
        SkinnyScratch s = model.skinny;
        boolean possible = s != null && s.kernels.streaming && s.counters != null;
        if (forced != null) {
            model.useProductReduction("on".equals(forced) && possible);
            productReductionChoice = "forced by -Dinferstream.cuda.productReduction=" + forced
                    + (possible || forced.equals("off") ? "" : " (not possible: needs the streaming products)");
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        DeviceMatrix[] ffn = {w.gate[0], w.up[0]};
        if (!possible || !model.groupedSkinny || !DeviceMatrix.groupable(n, ffn) || ffn[0].rows() != ffn[1].rows()) {
            productReductionChoice = "layer 0's gate/up do not take the grouped streaming product at " + n
                    + " tokens; not compared";
            return;
        }
        DeviceMatrix[] qkv = {w.wq[0], w.wk[0], w.wv[0]};
        boolean withQkv = model.fusedRope() && GroupEpilogue.ropeFits(config.headDim()) && DeviceMatrix.groupable(n, qkv);
        boolean downHalves = model.pass.downReadsHalves(0, n);
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        int npad = DeviceMatrix.groupPad(n, s);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(37);
        float[] xs = uniform(rnd, n * dim);
        boolean woResidual = DeviceMatrix.groupable(n, w.wo[0]) && s.countsBlocksOf(w.wo[0].rows());
        boolean downResidual = DeviceMatrix.groupable(n, w.down[0]) && s.countsBlocksOf(w.down[0].rows());
        float[] resid = uniform(rnd, n * dim); // the residual stream Wo and down add into (drawn after xs)
        try (RopeCheck rc = RopeCheck.of(rnd, n, kvDim, t -> (t * 7 + 3) % n, "product reduction check")) {
            CUdeviceptr positions = rc.positions();
            CUdeviceptr slots = rc.slots();
            DeviceBuffer keys = rc.keys();
            DeviceBuffer values = rc.values();
            buf.xb.upload(xs, xs.length);
            buf.att.upload(uniform(rnd, n * w.wo[0].cols()), n * w.wo[0].cols()); // Wo's input
            buf.hb2.upload(uniform(rnd, n * w.down[0].cols()), n * w.down[0].cols()); // down's
            DeviceBuffer[] outs = {buf.q, buf.kBuf, buf.vBuf, keys, values, buf.hb, s.halves, buf.x};
            BothWays result = null;
            for (boolean f16 : withQkv ? new boolean[] {true, false} : new boolean[] {true}) {
                java.util.function.IntConsumer chain = v -> {
                    if (withQkv && v == 1) {
                        DeviceMatrix.skinnyGroupReduced(k, qkv, buf.xb, n, s, false, s.halves,
                                model.pass.ropeKvEpilogue(0, positions, slots, keys, values, f16));
                    } else if (withQkv) {
                        int[] splits = DeviceMatrix.skinnyGroupPartials(k, qkv, buf.xb, n, s, false);
                        model.pass.reduceRopeKv(0, n, splits, positions, slots, keys, values, f16);
                    }
                    // Wo and down (of random activations in att and hb2) adding into the residual stream x (reset
                    // below before each way); before gate/up, whose 16-bit output is then the last write to s.halves
                    for (DeviceMatrix m : new DeviceMatrix[] {woResidual ? w.wo[0] : null, downResidual ? w.down[0] : null}) {
                        if (m == null) {
                            continue;
                        }
                        DeviceBuffer in = m == w.wo[0] ? buf.att : buf.hb2;
                        if (v == 1) {
                            DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {m}, in, n, s, false, s.halves,
                                    GroupEpilogue.residual(buf.x));
                        } else { // the product (reduced by splitk_reduce) into a scratch, then x += it
                            model.pass.matmulAll(m, in, buf.logits, n, false);
                            k.launch("add_inplace", (n * dim + 255) / 256, 1, 256, 0, buf.x, buf.logits, n * dim);
                        }
                    }
                    if (v == 1) {
                        DeviceMatrix.skinnyGroupReduced(k, ffn, buf.xb, n, s, false, downHalves ? s.stagedHalves : s.halves,
                                GroupEpilogue.swiglu(buf.hb, downHalves ? s.halves : null));
                    } else {
                        DeviceMatrix.skinnyGroup(k, ffn, buf.xb, new DeviceBuffer[] {buf.hb, null}, n, s, true, false,
                                downHalves);
                    }
                };
                int cache = withQkv ? (f16 ? n * kvDim / 2 : n * kvDim) : 0; // words of the cache rows (kvDim is even)
                int[] words = {withQkv ? n * qDim : 0, withQkv ? n * kvDim : 0, withQkv ? n * kvDim : 0, cache, cache,
                        n * hidden, downHalves ? npad * hidden / 2 : 0, woResidual || downResidual ? n * dim : 0};
                BothWays r = bothWays(chain, () -> {
                    for (DeviceBuffer o : outs) {
                        o.poison();
                    }
                    buf.x.upload(resid, resid.length); // x is added into: it starts from the same values both ways
                }, outs, words);
                result = result == null ? r : result.and(r); // F16's timings, every precision's bits
            }
            model.useProductReduction(result.adopt());
            model.bufferGeneration++;
            productReductionChoice = "layer 0's " + (withQkv ? "Q/K/V (with RoPE and the KV write, F16 and F32 KV), "
                    : "") + "gate/up (SwiGLU" + (downHalves ? " and down's 16-bit activations" : "") + ")"
                    + (woResidual || downResidual ? " and " + (woResidual && downResidual ? "Wo and down" : woResidual ? "Wo" : "down")
                            + " (adding into the residual stream)" : "") + ", " + n
                    + " tokens, " + result.outcome("reduction kernels", "in the products");
        }
    }

    /**
     * Decides whether the Wo and down products leave their split-K partial sums to the next norm
     * (add_rmsnorm_splitk_vec: one launch fewer per product, 2 per layer). Bit for bit the reduction followed by the
     * norm by construction; run 6 measured it 0.08 ms slower per c = 64 step when its loads went one split and one
     * piece at a time, since rewritten to keep a thread's loads of two splits in flight together. Layer 0's Wo of
     * 64 random tokens (with its split count) followed by the residual add and norm runs both ways; adopted only when x
     * and the norm's output are bitwise equal and the fused way is faster as CUDA graphs.
     * -Dinferstream.cuda.fuseNorm=true|false forces it.
     */
    void chooseFusedNorm() {
        String forced = System.getProperty("inferstream.cuda.fuseNorm");
        if (forced != null) {
            model.useFusedNorm("true".equals(forced));
            fusedNormChoice = "forced by -Dinferstream.cuda.fuseNorm=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        int dim = config.dim();
        boolean wasFused = model.fuseNorm;
        model.fuseNorm = true;
        boolean applies = model.pass.fuseReduceNorm() && w.wo[0].readsHalves(n, model.skinny) && model.skinny.splits(w.wo[0].rows(), w.wo[0].cols()) > 1;
        model.fuseNorm = wasFused;
        if (!applies) {
            fusedNormChoice = "layer 0's Wo of " + n + " tokens has no split-K partial sums to hand over (streaming product "
                    + "with several splits and vector norms needed); not compared";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(47);
        float[] x0 = new float[n * dim];
        float[] a0 = new float[n * qDim];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = (float) rnd.nextDouble(-2, 2);
        }
        for (int i = 0; i < a0.length; i++) {
            a0[i] = (float) rnd.nextDouble(-1, 1);
        }
        buf.att.upload(a0, a0.length);
        java.util.function.IntConsumer chain = v -> {
            int splits = v == 1 ? w.wo[0].matmulPartials(k, buf.att, buf.xb, n, model.skinny, false) : model.pass.matmulAll(w.wo[0], buf.att, buf.xb, n, false);
            model.pass.addRmsnorm(splits, n, w.ffnNorm[0], null);
        };
        BothWays r = bothWays(chain, () -> buf.x.upload(x0, x0.length), new DeviceBuffer[] {buf.x, buf.xb}, new int[] {n * dim, n * dim});
        model.useFusedNorm(r.adopt());
        model.bufferGeneration++;
        fusedNormChoice = "layer 0's Wo (" + model.skinny.splits(w.wo[0].rows(), w.wo[0].cols()) + " splits) and norm (x and the "
                + "norm's output), " + n + " tokens, " + r.outcome("separate", "fused");
    }

    /**
     * Decides how much of each layer's Wo and gate/up weights l2_prefetch brings into L2 before the attention
     * (prefetch.cu says why). Layer 0's chain as a decode step runs it (attention over a random F16 cache of 64 tokens,
     * Wo, residual add and norm, gate/up with SwiGLU, down) is timed as CUDA graphs with 0, 8, 16, 32 and 48 MiB
     * prefetched, each twice in alternation (the faster of the two); the best budget is adopted only when at least 2 %
     * faster than none. Results do not change (a prefetch only moves data into a cache).
     * -Dinferstream.cuda.l2PrefetchMiB=N forces N MiB.
     */
    void chooseL2Prefetch() {
        String forced = System.getProperty("inferstream.cuda.l2PrefetchMiB");
        if (forced != null) {
            model.useL2Prefetch(Long.parseLong(forced) << 20);
            l2PrefetchChoice = "forced by -Dinferstream.cuda.l2PrefetchMiB=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        int dim = config.dim();
        if (config.hiddenDim() < dim) {
            l2PrefetchChoice = "FFN narrower than the model (down's output does not fit the scratch); not compared";
            return;
        }
        long[] budgets = {0, 8L << 20, 16L << 20, 32L << 20, 48L << 20};
        long[] nanos = new long[budgets.length];
        java.util.Arrays.fill(nanos, Long.MAX_VALUE);
        try (AttentionFixture fx = AttentionFixture.decode(n, qDim, config.kvDim(), 41)) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(43);
            float[] x0 = new float[n * dim];
            for (int i = 0; i < x0.length; i++) {
                x0[i] = (float) rnd.nextDouble(-2, 2);
            }
            buf.x.upload(x0, x0.length);
            float scale = config.qkScale();
            boolean grouped = model.skinny != null && model.groupedSkinny && DeviceMatrix.groupable(n, w.gate[0], w.up[0])
                    && w.gate[0].rows() == w.up[0].rows();
            java.util.function.IntConsumer chain = v -> {
                if (budgets[v] > 0) {
                    model.pass.prefetchWeights(0, budgets[v]);
                }
                if (model.useSplitAttention) {
                    model.splitAttention.launch(k, true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            fx.maxBlocks(), AttentionFixture.BLOCK_SIZE, buf.att, n, scale,
                            SplitAttention.splits(n, config.nKvHeads()));
                } else {
                    model.pass.launchPerHeadAttention(true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            fx.maxBlocks(), AttentionFixture.BLOCK_SIZE, buf.att, n);
                }
                w.wo[0].matmul(k, buf.att, buf.xb, n, model.skinny);
                model.pass.addRmsnorm(0, n, w.ffnNorm[0], null);
                if (grouped) {
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n,
                            model.skinny, true);
                } else {
                    w.gate[0].matmul(k, buf.xb, buf.hb, n, model.skinny);
                    w.up[0].matmul(k, buf.xb, buf.hb2, n, model.skinny);
                    k.launch("swiglu", CudaKernels.blocks(n * config.hiddenDim()), 1, 256, 0, buf.hb, buf.hb2, n * config.hiddenDim());
                }
                w.down[0].matmul(k, buf.hb, buf.hb2, n, model.skinny);
            };
            for (int round = 0; round < 2; round++) {
                for (int v = 0; v < budgets.length; v++) {
                    long t = graphs.nanos(chain, v, CHOICE_REPS);
                    if (t > 0) {
                        nanos[v] = Math.min(nanos[v], t);
                    }
                }
            }
        }
        int best = 0;
        for (int v = 1; v < budgets.length; v++) {
            if (nanos[v] < nanos[best]) {
                best = v;
            }
        }
        boolean timed = nanos[0] != Long.MAX_VALUE;
        model.useL2Prefetch(timed && nanos[best] < 0.98 * nanos[0] ? budgets[best] : 0);
        model.bufferGeneration++;
        StringBuilder times = new StringBuilder();
        for (int v = 0; v < budgets.length; v++) {
            times.append(v == 0 ? "" : ", ").append(budgets[v] >> 20).append(" MiB ")
                    .append(nanos[v] == Long.MAX_VALUE ? "-" : String.format(java.util.Locale.ROOT, "%.1f us",
                            nanos[v] / 1e3 / CHOICE_REPS));
        }
        l2PrefetchChoice = "layer 0's attention, Wo, norm, gate/up and down at " + n + " tokens, " + CHOICE_REPS
                + " CUDA graph replays (best of 2): " + times + (timed ? "" : "; graph recording failed, not adopted");
    }

    /**
     * A Q/K/V trial's step metadata on the device (positions [n], then cache slots [n]) and its key and value cache
     * rows (n of kvDim floats each, enough for F16 or F32).
     */
    private record RopeCheck(DeviceBuffer meta, DeviceBuffer keys, DeviceBuffer values, int n) implements AutoCloseable {

        /** Positions 0 and 1 (position 0: angle 0), then random below 4096; token t's row in slot {@code slot(t)}. */
        static RopeCheck of(java.util.SplittableRandom rnd, int n, int kvDim, java.util.function.IntUnaryOperator slot,
                            String what) {
            int[] meta = new int[2 * n];
            for (int t = 0; t < n; t++) {
                meta[t] = t < 2 ? t : rnd.nextInt(4096);
                meta[n + t] = slot.applyAsInt(t);
            }
            List<DeviceBuffer> made = new ArrayList<>();
            try {
                made.add(DeviceBuffer.allocate(4L * meta.length, what + " metadata"));
                made.add(DeviceBuffer.allocate(4L * n * kvDim, what + " keys"));
                made.add(DeviceBuffer.allocate(4L * n * kvDim, what + " values"));
            } catch (RuntimeException e) {
                made.forEach(DeviceBuffer::close);
                throw e;
            }
            made.get(0).upload(meta, meta.length);
            return new RopeCheck(made.get(0), made.get(1), made.get(2), n);
        }

        CUdeviceptr positions() {
            return meta.pointer();
        }

        CUdeviceptr slots() {
            return meta.at(4L * n);
        }

        @Override
        public void close() {
            values.close();
            keys.close();
            meta.close();
        }
    }
}
