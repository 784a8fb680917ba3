package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;

import io.inferstream.runtime.gguf.GgmlType;

/**
 * The load-time choices of how a model's matrix products run (its decode steps spend most of their time in them):
 * the skinny kernel, grouped Q/K/V and gate/up products, the split-K depth, packed weights, 32-row warps, sliced
 * prefill and the streaming kernel for steps of 1..8 tokens. Each runs the candidate next to the proven way on layer
 * 0's weights, adopts it (through the model's {@code use...} switches) only when its results are bitwise equal or
 * within the stated tolerance and it is faster as CUDA graph replays, and says why in its {@code ...Choice} string.
 */
final class ProductKernelChoices extends KernelTrials {

    // What each choice decided and why (the model's kernelChoices() shows them)
    String skinnyChoice = "skinny product off";
    String packedStreamChoice = "not compared";
    String tallStreamChoice = "not compared";
    String slicedPrefillChoice = "not compared";
    String smallStreamChoice = "matvec for 1..8 tokens (not compared)";
    String quantStreamChoice = "the CUDA-core kernels (not compared)";
    String wgmmaChoice = "not compared";

    ProductKernelChoices(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs) {
        super(model, w, buf, graphs);
    }

    /**
     * Picks the skinny kernel: each candidate (matmul_skinny_smem, matmul_skinny_pipe, matmul_stream with 8- or
     * 16-warp blocks) runs a 64-token
     * product of the first FFN matrix next to the proven matmul_skinny, each timed as {@code CHOICE_REPS} CUDA graph
     * replays of its launches (conversion, product, reduction: as decode steps run them; eager launches would time
     * the host). matmul_skinny_smem and matmul_skinny_pipe perform the same tensor-core steps in the same K order, so
     * they are eligible only when bit for bit equal. matmul_stream adds in another order (8-token mma tiles, its own
     * split-K), so it is eligible when within 1e-4 of matmul_skinny (max abs difference over max abs value; a wrong
     * kernel is off by order 1) on this product AND on every distinct layer-0 and output-head shape at 64 and 13
     * tokens (it serves them all). The fastest eligible kernel is adopted; a wrong or slower one is never used.
     * -Dinferstream.cuda.skinny=plain|smem|pipe|stream|streamwide forces one.
     */
    void chooseSkinnyKernel() {
        String forced = System.getProperty("inferstream.cuda.skinny");
        if (forced != null) {
            model.useStreamingSkinny("stream".equals(forced) || "streamwide".equals(forced));
            model.useWideStream("streamwide".equals(forced));
            model.useStagedSkinny("smem".equals(forced));
            model.usePipelinedSkinny("pipe".equals(forced));
            skinnyChoice = model.skinnyKernelName() + " (forced by -Dinferstream.cuda.skinny=" + forced + ")";
            return;
        }
        DeviceMatrix m = w.gate[0];
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        if (n <= DeviceMatrix.MATVEC_MAX_TOKENS || !SkinnyScratch.fits(m.rows(), m.cols())
                || (m.type() != GgmlType.BF16 && m.type() != GgmlType.F16)) {
            skinnyChoice = "matmul_skinny (" + m + " does not take the skinny product; not compared)";
            return;
        }
        // x [n, cols] in xb, y [n, rows] in hb: fits the scratch for `capacity` tokens
        float[] xs = new float[n * m.cols()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        buf.xb.upload(xs, xs.length);
        String[] names = {"matmul_skinny", "matmul_skinny_smem", "matmul_skinny_pipe", "matmul_stream", "matmul_stream_wide"};
        long[] nanos = new long[names.length];
        boolean[] eligible = new boolean[names.length];
        double[] difference = new double[names.length];
        String[] timing = new String[names.length];
        float[] proven = null;
        java.util.function.IntConsumer product = v -> {
            model.skinny.kernels.staged = v == 1;
            model.skinny.kernels.pipelined = v == 2;
            model.skinny.kernels.streaming = v >= 3;
            model.skinny.kernels.streamWide = v == 4;
            m.skinny(k, buf.xb, buf.hb, n, model.skinny);
        };
        for (int v = 0; v < names.length; v++) {
            product.accept(v); // eager: the result compared below
            device.synchronize();
            float[] got = new float[n * m.rows()];
            buf.hb.download(got, got.length);
            if (v == 0) {
                proven = got;
            }
            difference[v] = relativeDifference(got, proven);
            eligible[v] = v >= 3 ? difference[v] <= 1e-4 : java.util.Arrays.equals(proven, got);
            long t = graphs.nanos(product, v, CHOICE_REPS);
            timing[v] = "graph";
            if (t < 0) { // the driver refused to record: eager launches (timing the host as much as the GPU)
                timing[v] = "eager";
                t = eagerNanos(product, v, CHOICE_REPS);
            }
            nanos[v] = t;
        }
        String[] shapes = new String[names.length];
        for (int v = 3; v < names.length; v++) {
            if (eligible[v]) {
                shapes[v] = streamMismatch(new int[] {n, Math.min(13, n)}, v == 4);
                eligible[v] = shapes[v] == null;
            }
        }
        int best = 0;
        for (int v = 1; v < names.length; v++) {
            if (eligible[v] && nanos[v] < nanos[best]) {
                best = v;
            }
        }
        model.chosen.streaming = best >= 3;
        model.chosen.streamWide = best == 4;
        model.chosen.staged = best == 1;
        model.chosen.pipelined = best == 2;
        model.syncSkinny();
        model.bufferGeneration++;
        StringBuilder why = new StringBuilder(String.format(java.util.Locale.ROOT,
                "%s: %s %d x %d, %d tokens, per product (conversion + product + reduction, %d CUDA graph replays):",
                names[best], m.type(), m.rows(), m.cols(), n, CHOICE_REPS));
        for (int v = 0; v < names.length; v++) {
            double us = nanos[v] / 1e3 / CHOICE_REPS;
            why.append(String.format(java.util.Locale.ROOT, " %s %.1f us = %.0f GB/s of weights%s%s", names[v], us,
                    m.bytes() / (us * 1e3), timing[v].equals("graph") ? "" : " (eager)",
                    v == 0 ? "" : v < 3 ? (eligible[v] ? " (bitwise equal)" : " (DIFFERS: not used)")
                            : String.format(java.util.Locale.ROOT, " (max relative difference %.2e%s)", difference[v],
                                    difference[v] > 1e-4 ? ": DIFFERS, not used"
                                            : shapes[v] != null ? "; DIFFERS on " + shapes[v] + ": not used" : " on every shape")));
            why.append(v + 1 < names.length ? "," : "");
        }
        skinnyChoice = why.toString();
    }

    /**
     * Runs matmul_stream and matmul_skinny (default split) on every distinct shape among layer 0's matrices and the
     * output head that takes the skinny product, for each token count, on random inputs; null when every result is
     * within 1e-4 (max abs difference over max abs value), else the first shape that is not, with its difference.
     */
    private String streamMismatch(int[] tokenCounts, boolean wide) {
        List<DeviceMatrix> shapes = new ArrayList<>();
        for (DeviceMatrix c : List.of(w.wq[0], w.wk[0], w.wv[0], w.wo[0], w.gate[0], w.up[0], w.down[0], w.output)) {
            boolean seen = false;
            for (DeviceMatrix d : shapes) {
                seen |= d.rows() == c.rows() && d.cols() == c.cols() && d.type() == c.type();
            }
            if (!seen && c.takesSkinny(SkinnyScratch.MAX_TOKENS) && SkinnyScratch.streamFits(c.rows(), c.cols())) {
                shapes.add(c);
            }
        }
        int maxN = 0;
        for (int n : tokenCounts) {
            maxN = Math.max(maxN, n);
        }
        long maxCols = 0;
        long maxRows = 0;
        for (DeviceMatrix d : shapes) {
            maxCols = Math.max(maxCols, d.cols());
            maxRows = Math.max(maxRows, d.rows());
        }
        boolean streaming = model.skinny.kernels.streaming;
        boolean streamingWide = model.skinny.kernels.streamWide;
        boolean staged = model.skinny.kernels.staged;
        boolean pipelined = model.skinny.kernels.pipelined;
        boolean deep = model.skinny.kernels.deepSplit;
        try (DeviceBuffer in = DeviceBuffer.allocate(4L * maxN * maxCols, "stream check x");
             DeviceBuffer out = DeviceBuffer.allocate(4L * maxN * maxRows, "stream check y")) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(17);
            float[] xs = uniform(rnd, (int) (maxN * maxCols));
            in.upload(xs, xs.length);
            for (DeviceMatrix d : shapes) {
                for (int n : tokenCounts) {
                    if (n <= DeviceMatrix.MATVEC_MAX_TOKENS) {
                        continue;
                    }
                    float[][] got = new float[2][n * d.rows()];
                    for (int v = 0; v < 2; v++) {
                        model.skinny.kernels.streaming = v == 1;
                        model.skinny.kernels.streamWide = wide;
                        model.skinny.kernels.staged = false;
                        model.skinny.kernels.pipelined = false;
                        model.skinny.kernels.deepSplit = false;
                        d.skinny(k, in, out, n, model.skinny);
                        device.synchronize();
                        out.download(got[v], got[v].length);
                    }
                    double diff = relativeDifference(got[1], got[0]);
                    if (!(diff <= 1e-4)) {
                        return String.format(java.util.Locale.ROOT, "%d x %d at %d tokens (%.2e)", d.rows(), d.cols(), n, diff);
                    }
                }
            }
            return null;
        } finally {
            model.skinny.kernels.streaming = streaming;
            model.skinny.kernels.streamWide = streamingWide;
            model.skinny.kernels.staged = staged;
            model.skinny.kernels.pipelined = pipelined;
            model.skinny.kernels.deepSplit = deep;
        }
    }

    /**
     * Decides whether decode steps of 9..64 tokens compute Q, K, V as one grouped skinny product and gate, up and
     * SwiGLU as another (matmul_skinny_group + splitk_reduce_group / splitk_reduce_swiglu: 6 launches instead of
     * 16). Layer 0's products of 64 random tokens run both ways; the grouped way is adopted only when all four
     * results (q, k, v, silu(gate) * up) are bit for bit those of the separate products and it is faster.
     */
    void chooseGroupedSkinny() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.skinnyGroup");
        if (forced != null) {
            model.useGroupedSkinny("on".equals(forced));
            skinnyChoice += "; grouped Q/K/V and gate/up products " + (model.groupedSkinny ? "on" : "off")
                    + " (forced by -Dinferstream.cuda.skinnyGroup=" + forced + ")";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        if (model.skinny == null || !DeviceMatrix.groupable(n, w.wq[0], w.wk[0], w.wv[0]) || !DeviceMatrix.groupable(n, w.gate[0], w.up[0])
                || w.gate[0].rows() != w.up[0].rows()) {
            skinnyChoice += "; grouped products off (layer 0 matrices do not take them; not compared)";
            return;
        }
        float[] xs = new float[n * config.dim()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        buf.xb.upload(xs, xs.length);
        int hidden = config.hiddenDim();
        DeviceBuffer[] outs = {buf.q, buf.kBuf, buf.vBuf, buf.hb};
        int[] lengths = {n * w.wq[0].rows(), n * w.wk[0].rows(), n * w.wv[0].rows(), n * hidden};
        float[][][] got = new float[2][4][];
        long[] nanos = new long[2];
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 6; i++) {
                if (i == 1) {
                    device.synchronize();
                    nanos[v] = System.nanoTime();
                }
                if (v == 0) {
                    DeviceMatrix.matmul3(k, w.wq[0], w.wk[0], w.wv[0], buf.xb, buf.q, buf.kBuf, buf.vBuf, n, model.skinny);
                    w.gate[0].matmul(k, buf.xb, buf.hb, n, model.skinny);
                    w.up[0].matmul(k, buf.xb, buf.hb2, n, model.skinny);
                    k.launch("swiglu", CudaKernels.blocks(n * hidden), 1, 256, 0, buf.hb, buf.hb2, n * hidden);
                } else {
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf},
                            n, model.skinny, false);
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n,
                            model.skinny, true);
                }
            }
            device.synchronize();
            nanos[v] = System.nanoTime() - nanos[v];
            for (int o = 0; o < 4; o++) {
                got[v][o] = new float[lengths[o]];
                outs[o].download(got[v][o], lengths[o]);
            }
        }
        boolean same = true;
        for (int o = 0; o < 4; o++) {
            same &= java.util.Arrays.equals(got[0][o], got[1][o]);
        }
        model.useGroupedSkinny(same && nanos[1] < nanos[0]);
        skinnyChoice += String.format(java.util.Locale.ROOT,
                "; grouped Q/K/V and gate/up products %s (layer 0, %d tokens: separate %.1f us, grouped %.1f us, results %s)",
                model.groupedSkinny ? "on" : "off", n, nanos[0] / 5e3, nanos[1] / 5e3,
                same ? "bitwise equal" : "DIFFER: grouped products not used");
    }

    /**
     * Decides the split-K depth of the skinny products (SkinnyScratch: default about 2048 warps and K ranges of at
     * least 256 columns; deep: matrices under 512 blocks split further, down to 128 columns, so Wq/Wo at
     * 2048 x 2048 run 512 blocks instead of 256). Layer 0's skinny products of 64 random tokens (Q/K/V, Wo, gate/up, down, grouped if the grouped way
     * is on) run both ways. The deep way sums in another order, so it cannot be bitwise equal: it is adopted only
     * when every result is within 1e-4 of the default one (max abs difference over max abs value; a wrong split
     * gives errors of order 1) and the products are faster.
     */
    void chooseDeepSplit() {
        String forced = System.getProperty("inferstream.cuda.skinnySplit");
        if (forced != null) {
            model.useDeepSplit("deep".equals(forced));
            skinnyChoice += "; split-K " + (model.chosen.deepSplit ? "deep" : "default")
                    + " (forced by -Dinferstream.cuda.skinnySplit=" + forced + ")";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        if (model.skinny == null || !w.wo[0].takesSkinny(n) || !w.down[0].takesSkinny(n) || !w.gate[0].takesSkinny(n)
                || !w.up[0].takesSkinny(n) || !w.wq[0].takesSkinny(n) || !w.wk[0].takesSkinny(n) || !w.wv[0].takesSkinny(n)
                || config.vocabSize() < w.down[0].rows()) { // down's output goes to the logits buffer [n, vocab]
            skinnyChoice += "; split-K default (layer 0 matrices do not all take the skinny product; not compared)";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(13);
        float[] xs = uniform(rnd, n * config.dim());
        float[] as = uniform(rnd, n * w.wo[0].cols());
        int hidden = config.hiddenDim();
        float[] hs = uniform(rnd, n * hidden);
        // inputs xb, att, hb2 (random, uploaded once: no product writes them, so no difference of one product
        // feeds the next); outputs q, k, v, hb (silu(gate) * up, or gate), x (Wo of att), logits (down of hb2)
        buf.xb.upload(xs, xs.length);
        buf.att.upload(as, as.length);
        buf.hb2.upload(hs, hs.length);
        DeviceBuffer[] outs = {buf.q, buf.kBuf, buf.vBuf, buf.hb, buf.x, buf.logits};
        int[] lengths = {n * w.wq[0].rows(), n * w.wk[0].rows(), n * w.wv[0].rows(), n * hidden, n * w.wo[0].rows(), n * w.down[0].rows()};
        float[][][] got = new float[2][outs.length][];
        long[] nanos = new long[2];
        boolean grouped = model.groupedSkinny && DeviceMatrix.groupable(n, w.wq[0], w.wk[0], w.wv[0])
                && DeviceMatrix.groupable(n, w.gate[0], w.up[0]) && w.gate[0].rows() == w.up[0].rows();
        java.util.function.IntConsumer products = v -> {
            model.skinny.kernels.deepSplit = v == 1;
            if (grouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf},
                        n, model.skinny, false);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n,
                        model.skinny, true);
            } else {
                DeviceMatrix.matmul3(k, w.wq[0], w.wk[0], w.wv[0], buf.xb, buf.q, buf.kBuf, buf.vBuf, n, model.skinny);
                w.gate[0].matmul(k, buf.xb, buf.hb, n, model.skinny);
            }
            w.wo[0].matmul(k, buf.att, buf.x, n, model.skinny);
            w.down[0].matmul(k, buf.hb2, buf.logits, n, model.skinny);
        };
        int reps = 20;
        String timing = reps + " CUDA graph replays";
        for (int v = 0; v < 2; v++) {
            products.accept(v); // eager: the results compared below
            device.synchronize();
            for (int o = 0; o < outs.length; o++) {
                got[v][o] = new float[lengths[o]];
                outs[o].download(got[v][o], lengths[o]);
            }
        }
        // Timed as CUDA graphs (as decode steps run): eagerly, these ~12 launches at ~11 us of host time each
        // would take longer to issue than the GPU takes to run them, and the comparison would time the host.
        for (int v = 0; v < 2; v++) {
            long t = graphs.nanos(products, v, reps);
            if (t < 0) {
                timing = reps + " eager runs (graph recording failed)";
                t = eagerNanos(products, v, reps);
            }
            nanos[v] = t;
        }
        double worst = 0;
        for (int o = 0; o < outs.length; o++) {
            worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
        }
        boolean close = worst <= 1e-4;
        model.skinny.kernels.deepSplit = false;
        model.useDeepSplit(close && nanos[1] < nanos[0]);
        model.bufferGeneration++;
        skinnyChoice += String.format(java.util.Locale.ROOT,
                "; split-K %s (layer 0 skinny products, %d tokens, %s: default %.1f us, deep %.1f us, max relative "
                        + "difference %.2e%s)", model.chosen.deepSplit ? "deep" : "default", n, timing, nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst,
                close ? "" : ": DIFFER, deep split not used");
    }

    /**
     * Decides whether the streaming products read packed copies of the weights. Row-major, a load instruction of
     * a warp reads 64 bytes from each of 8 rows and a warp keeps 16 row streams open; packed, it reads 512
     * contiguous bytes and each warp's K range is one stream (run 6 had the output head at 2.5 TB/s and gate/up at
     * 2.9 TB/s, 52-60 % of the H200's HBM). The lanes receive the same values, so the
     * results are bit for bit the same. Layer 0's products (Q/K/V, gate/up, Wo, down; grouped where that is on) and
     * the output head of 64 random tokens run both ways; packed is adopted only when every output is bitwise equal
     * and the products are faster as CUDA graphs, and only when the copies of all matrices (about the weights'
     * size again) take at most a quarter of the memory the KV pool would get. -Dinferstream.cuda.packedStream=on|off
     * forces it.
     */
    void choosePackedStream() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.packedStream");
        if (forced != null) {
            model.usePackedStream(model.chosen.streaming && model.skinny != null && "on".equals(forced));
            packedStreamChoice = "forced by -Dinferstream.cuda.packedStream=" + forced;
            return;
        }
        if (!model.chosen.streaming || model.skinny == null) {
            packedStreamChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        long need = 0;
        for (DeviceMatrix m : w.allMatrices()) {
            if (m.packable()) {
                need += DeviceMatrix.packedBytes(m.rows(), m.cols());
            }
        }
        if (need > model.plan.kvBytes() / 4) {
            packedStreamChoice = "the packed copies would take " + MemoryPlan.gib(need) + ", more than a quarter of the "
                    + MemoryPlan.gib(model.plan.kvBytes()) + " the KV pool gets; not compared";
            return;
        }
        List<DeviceMatrix> layer0 = List.of(w.wq[0], w.wk[0], w.wv[0], w.wo[0], w.gate[0], w.up[0], w.down[0], w.output);
        for (DeviceMatrix m : layer0) {
            if (!m.takesSkinny(n) || !m.packable()) {
                packedStreamChoice = m + " does not take the streaming product at " + n + " tokens; not compared";
                return;
            }
        }
        for (DeviceMatrix m : layer0) {
            m.packForStream(k);
        }
        packedStreamChoice = layerZeroBothWays(n, 53, v -> model.skinny.kernels.packed = v == 1,
                () -> model.skinny.kernels.packed = model.chosen.packed,
                model::usePackedStream, // packs the other layers, or frees layer 0's copies
                "row-major", "packed");
    }

    /**
     * Layer 0's products and the output head of n random tokens (seeded) both ways ({@code way} sets way v on the
     * scratch; {@code restore} puts the model's own setting back, whatever happens), then {@code adopt} gets whether
     * the second way is bitwise equal and faster. Returns what was compared and found.
     */
    private String layerZeroBothWays(int n, long seed, java.util.function.IntConsumer way, Runnable restore,
                                     java.util.function.Consumer<Boolean> adopt, String first, String second) {
        ProductChain p = layerZeroProducts(n, seed, way);
        BothWays r;
        try {
            r = bothWays(p.chain(), p.reset(), p.outs(), p.words());
        } finally {
            restore.run();
        }
        adopt.accept(r.adopt());
        model.bufferGeneration++;
        return "layer 0's products and the output head, " + n + " tokens" + (p.grouped() ? " (grouped)" : "") + ", "
                + r.outcome(first, second);
    }

    /**
     * With packed weights, decides whether the streaming products run 8 warps of 32 rows per block (one block per SM,
     * up to 255 registers a thread; only products with a block for every SM, see SkinnyScratch.tallMinBlocks) instead
     * of 16-row warps: at 64 tokens a 16-row warp reads 4 bytes of activation
     * fragments from shared memory per weight byte, a 32-row warp 2, for the same mma count (run 6: the output head
     * streamed 3.0 TB/s at 16 tokens and 2.5 at 64). The split-K policy stays the same and every output adds the same
     * k in the same order, so the bits do not change: the same layer-0 products and output head as
     * {@link #choosePackedStream} run both ways, adopted only when bitwise equal and faster as CUDA graphs.
     * -Dinferstream.cuda.tallStream=on|off forces it.
     */
    void chooseTallStream() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.tallStream");
        if (forced != null) {
            model.useTallStream(model.chosen.packed && "on".equals(forced));
            tallStreamChoice = "forced by -Dinferstream.cuda.tallStream=" + forced;
            return;
        }
        if (!model.chosen.packed || model.skinny == null) {
            tallStreamChoice = "the streaming products do not read packed weights; not compared";
            return;
        }
        long most = 0; // the largest tall grid among the products (grouped ones count together)
        for (DeviceMatrix[] group : List.of(new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, new DeviceMatrix[] {w.gate[0], w.up[0]},
                new DeviceMatrix[] {w.wo[0]}, new DeviceMatrix[] {w.down[0]}, new DeviceMatrix[] {w.output})) {
            long blocks = 0;
            for (DeviceMatrix m : group) {
                blocks += SkinnyScratch.tallBlocks(m.rows(), m.cols(), model.chosen.streamWide, model.chosen.deepSplit);
            }
            most = Math.max(most, blocks);
        }
        if (most < model.chosen.tallMinBlocks) {
            tallStreamChoice = "no product has " + model.chosen.tallMinBlocks + " blocks of 256 rows (the most: " + most
                    + "); not compared";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        tallStreamChoice = layerZeroBothWays(n, 59, v -> model.skinny.kernels.streamTall = v == 1,
                () -> model.skinny.kernels.streamTall = model.chosen.streamTall, model::useTallStream, "16-row warps",
                "32-row warps");
    }

    /**
     * Decides how prefill and mixed steps (more than 64 tokens) multiply: the tiled WMMA kernel (64 tokens x 32 rows
     * per block, weights and activations staged through shared memory two bytes at a time) or matmul_stream_slices,
     * the decode kernel over 64-token slices in one launch (each weight read once per slice, as the WMMA kernel reads it
     * once per 64-token block column, but in 16-byte pieces straight into tensor-core fragments; the packed copy where
     * there is one). Run 6: prefill at 5000 tok/s on an H200 for Llama-3.2-1B, about 13 TFLOPS, where the decode
     * kernel streams 64 tokens of every weight at 2-3 TB/s. Layer 0's Q/K/V, gate, Wo and down of
     * min(512, capacity) random tokens run both ways; the two add in different orders, so slices are adopted when
     * every output is within 1e-4 of the WMMA one (max abs difference over max abs value; a wrong kernel is off by
     * order 1) and faster as CUDA graphs. -Dinferstream.cuda.slicedPrefill=on|off forces it.
     */
    void chooseSlicedPrefill() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.slicedPrefill");
        if (forced != null) {
            model.useSlicedPrefill(model.chosen.streaming && model.skinny != null && "on".equals(forced));
            slicedPrefillChoice = "forced by -Dinferstream.cuda.slicedPrefill=" + forced;
            return;
        }
        if (!model.chosen.streaming || model.skinny == null) {
            slicedPrefillChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        int n = Math.min(512, buf.capacity);
        if (n <= SkinnyScratch.MAX_TOKENS) {
            slicedPrefillChoice = "steps of at most " + buf.capacity + " tokens never exceed 64; not compared";
            return;
        }
        for (DeviceMatrix m : List.of(w.wq[0], w.wk[0], w.wv[0], w.wo[0], w.gate[0], w.down[0])) {
            if (!m.packable()) { // 16-bit, cols a multiple of 8: what the sliced product takes too
                slicedPrefillChoice = m + " does not take the sliced product; not compared";
                return;
            }
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(61);
        float[] xs = uniform(rnd, n * config.dim()); // (drawn in this order)
        float[] as = uniform(rnd, n * qDim);
        float[] hs = uniform(rnd, n * config.hiddenDim());
        model.skinny.sliceHalves(buf.capacity, model.maxSliceCols());
        // inputs xb, att, hb2; outputs q, k, v, hb (gate), x (Wo of att) and, last, xb (down of hb2)
        java.util.function.IntConsumer chain = v -> {
            model.skinny.kernels.slicedPrefill = v == 1;
            DeviceMatrix.matmul3(k, w.wq[0], w.wk[0], w.wv[0], buf.xb, buf.q, buf.kBuf, buf.vBuf, n, model.skinny);
            w.gate[0].matmul(k, buf.xb, buf.hb, n, model.skinny);
            w.wo[0].matmul(k, buf.att, buf.x, n, model.skinny);
            w.down[0].matmul(k, buf.hb2, buf.xb, n, model.skinny);
        };
        DeviceBuffer[] outs = {buf.q, buf.kBuf, buf.vBuf, buf.hb, buf.x, buf.xb};
        int[] lengths = {n * w.wq[0].rows(), n * w.wk[0].rows(), n * w.wv[0].rows(), n * w.gate[0].rows(), n * w.wo[0].rows(),
            n * w.down[0].rows()};
        double worst = 0;
        long[] nanos = new long[2];
        try {
            float[][][] got = new float[2][outs.length][];
            for (int v = 0; v < 2; v++) {
                buf.xb.upload(xs, xs.length);
                buf.att.upload(as, as.length);
                buf.hb2.upload(hs, hs.length);
                chain.accept(v);
                device.synchronize();
                for (int o = 0; o < outs.length; o++) {
                    got[v][o] = new float[lengths[o]];
                    outs[o].download(got[v][o], lengths[o]);
                }
            }
            for (int o = 0; o < outs.length; o++) {
                worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
            }
            for (int v = 0; v < 2; v++) {
                nanos[v] = graphs.nanos(chain, v, CHOICE_REPS);
            }
        } finally {
            model.skinny.kernels.slicedPrefill = model.chosen.slicedPrefill;
        }
        WithinTolerance both = new WithinTolerance(worst, 1e-4, nanos);
        model.useSlicedPrefill(both.adopt());
        model.bufferGeneration++;
        slicedPrefillChoice = String.format(java.util.Locale.ROOT,
                "layer 0's Q/K/V, gate, Wo and down of %d tokens, %d CUDA graph replays: matmul_wmma %.1f us, "
                        + "matmul_stream_slices %.1f us; max relative difference %.2e%s", n, CHOICE_REPS,
                nanos[0] / 1e3 / CHOICE_REPS, nanos[1] / 1e3 / CHOICE_REPS, worst, both.verdict());
    }

    /** A step fragment for {@link KernelTrials#bothWays}: its launches (way v), the reset of its inputs, its outputs. */
    private record ProductChain(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words,
                                boolean grouped) {
    }

    /**
     * Layer 0's products and the output head of n random tokens (seeded): Q/K/V and gate/up (grouped where that is
     * on) of xb, Wo of att, the head of xb, and last down of hb2 into xb; {@code way} sets the way before the launches.
     * Outputs q, k, v, hb (silu(gate) * up, or gate), x, logits and xb.
     */
    private ProductChain layerZeroProducts(int n, long seed, java.util.function.IntConsumer way) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        float[] xs = uniform(rnd, n * config.dim()); // (drawn in this order)
        float[] as = uniform(rnd, n * w.wo[0].cols());
        float[] hs = uniform(rnd, n * config.hiddenDim());
        boolean grouped = model.groupedSkinny && DeviceMatrix.groupable(n, w.wq[0], w.wk[0], w.wv[0])
                && DeviceMatrix.groupable(n, w.gate[0], w.up[0]) && w.gate[0].rows() == w.up[0].rows();
        java.util.function.IntConsumer chain = v -> {
            way.accept(v);
            if (grouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, buf.xb, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf},
                        n, model.skinny, false);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb, null}, n,
                        model.skinny, true);
            } else {
                w.wq[0].matmul(k, buf.xb, buf.q, n, model.skinny);
                w.wk[0].matmul(k, buf.xb, buf.kBuf, n, model.skinny);
                w.wv[0].matmul(k, buf.xb, buf.vBuf, n, model.skinny);
                w.gate[0].matmul(k, buf.xb, buf.hb, n, model.skinny);
            }
            w.wo[0].matmul(k, buf.att, buf.x, n, model.skinny);
            w.output.matmul(k, buf.xb, buf.logits, n, model.skinny);
            w.down[0].matmul(k, buf.hb2, buf.xb, n, model.skinny);
        };
        Runnable reset = () -> {
            buf.xb.upload(xs, xs.length);
            buf.att.upload(as, as.length);
            buf.hb2.upload(hs, hs.length);
        };
        return new ProductChain(chain, reset, new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf, buf.hb, buf.x, buf.logits, buf.xb},
                new int[] {n * w.wq[0].rows(), n * w.wk[0].rows(), n * w.wv[0].rows(), n * config.hiddenDim(), n * w.wo[0].rows(),
                    n * w.output.rows(), n * w.down[0].rows()}, grouped);
    }

    /**
     * Decides whether Q8_0 and kept Q4_K / Q6_K matrices run matmul_stream_q8 / _q4_k / _q6_k (tensor cores: quants
     * widened to F16 in the fragments, scales and mins per 32 in float; Q6_K's scales per 16 before the mma) for steps
     * of more than 8 tokens instead of the CUDA-core matmul_tiled_*: each of layer 0's such products on the same random activations both ways, at up to 64
     * tokens and, where steps can be longer, as 64-token slices of up to 512; adopted when every output is within 5e-3
     * (the tensor-core kernels round the activations to F16; the CUDA-core ones keep them in float) and the products of
     * both sizes together are faster as CUDA graph replays. -Dinferstream.cuda.quantStream=on|off forces it.
     */
    void chooseQuantStream() {
        List<DeviceMatrix> quantized = new ArrayList<>();
        for (DeviceMatrix m : List.of(w.wq[0], w.wk[0], w.wv[0], w.wo[0], w.gate[0], w.up[0], w.down[0])) {
            if (m.quantStreamable() && m.cols() <= config.hiddenDim() && m.rows() <= config.hiddenDim()) { // hb2 in, hb out
                quantized.add(m);
            }
        }
        String forced = CudaLlamaModel.onOff("inferstream.cuda.quantStream");
        if (forced != null) {
            model.useQuantStream("on".equals(forced));
            quantStreamChoice = (model.chosen.quant ? "matmul_stream_q8 / _q4_k / _q6_k" : "the CUDA-core kernels")
                    + " (forced by -Dinferstream.cuda.quantStream=" + forced + ")";
            return;
        }
        if (quantized.isEmpty() || model.skinny == null) {
            quantStreamChoice = "the CUDA-core kernels (no Q8_0 or kept Q4_K / Q6_K matrix in layer 0; not compared)";
            return;
        }
        int[] sizes = buf.capacity > SkinnyScratch.MAX_TOKENS
                ? new int[] {SkinnyScratch.MAX_TOKENS, Math.min(512, buf.capacity)} : new int[] {Math.min(64, buf.capacity)};
        if (sizes[0] <= DeviceMatrix.MATVEC_MAX_TOKENS) {
            quantStreamChoice = "the CUDA-core kernels (steps of at most " + buf.capacity + " tokens: matvec; not compared)";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(67);
        int widest = Math.max(Math.max(config.dim(), config.hiddenDim()), qDim);
        float[] xs = uniform(rnd, sizes[sizes.length - 1] * widest);
        model.skinny.sliceHalves(buf.capacity, model.maxSliceCols());
        model.skinny.blockSums(buf.capacity, model.maxSliceCols());
        // every product reads hb2 (as wide as any input) and writes hb (as tall as any output)
        java.util.function.IntConsumer chain = v -> {
            model.skinny.kernels.quant = v == 1;
            for (int n : sizes) {
                for (DeviceMatrix m : quantized) {
                    m.matmul(k, buf.hb2, buf.hb, n, model.skinny);
                }
            }
        };
        double worst = 0;
        long[] nanos = new long[2];
        try {
            for (int n : sizes) {
                for (DeviceMatrix m : quantized) {
                    float[][] got = new float[2][n * m.rows()];
                    for (int v = 0; v < 2; v++) {
                        buf.hb2.upload(xs, n * m.cols());
                        model.skinny.kernels.quant = v == 1;
                        m.matmul(k, buf.hb2, buf.hb, n, model.skinny);
                        device.synchronize();
                        buf.hb.download(got[v], got[v].length);
                    }
                    worst = Math.max(worst, relativeDifference(got[1], got[0]));
                }
            }
            buf.hb2.upload(xs, xs.length);
            for (int v = 0; v < 2; v++) {
                nanos[v] = graphs.nanos(chain, v, CHOICE_REPS);
            }
        } finally {
            model.skinny.kernels.quant = model.chosen.quant;
        }
        WithinTolerance both = new WithinTolerance(worst, 5e-3, nanos);
        model.useQuantStream(both.adopt());
        model.bufferGeneration++;
        quantStreamChoice = String.format(java.util.Locale.ROOT,
                "%s (layer 0's %d %s products at %s tokens, %d CUDA graph replays: CUDA-core kernels %.1f us, "
                        + "tensor-core kernels %.1f us; max relative difference %.2e%s)",
                model.chosen.quant ? "matmul_stream_q8 / _q4_k / _q6_k" : "the CUDA-core kernels", quantized.size(),
                quantized.stream().map(m -> m.type().toString()).distinct().collect(java.util.stream.Collectors.joining("/")),
                java.util.Arrays.toString(sizes),
                CHOICE_REPS, nanos[0] / 1e3 / CHOICE_REPS, nanos[1] / 1e3 / CHOICE_REPS, worst, both.verdict());
    }

    /**
     * Decides whether steps of 1..8 tokens use matmul_stream instead of matvec (run 6: matvec reads gate/up at 1.3
     * TB/s and the output head at 1.6 TB/s for one token, where matmul_stream reaches 2-3 TB/s for 16). Layer 0's
     * Wo, gate, up, down and the output head run both ways on one and on eight random tokens; matmul_stream is
     * adopted only when every result is within the 16-bit rounding of its activations (max abs difference over max
     * abs value 1e-2 for BF16, 2e-3 for F16; matvec keeps them in float) and the one-token products are faster as
     * CUDA graphs. -Dinferstream.cuda.smallStream=on|off forces it.
     */
    void chooseSmallStream() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.smallStream");
        if (forced != null) {
            model.useSmallStream(model.chosen.streaming && "on".equals(forced));
            smallStreamChoice = "forced by -Dinferstream.cuda.smallStream=" + forced;
            return;
        }
        if (!model.chosen.streaming || model.skinny == null) {
            smallStreamChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        List<DeviceMatrix> ms = new ArrayList<>();
        for (DeviceMatrix m : List.of(w.wo[0], w.gate[0], w.up[0], w.down[0], w.output)) {
            if (m.takesSkinny(SkinnyScratch.MAX_TOKENS) && SkinnyScratch.streamFits(m.rows(), m.cols())) {
                ms.add(m);
            }
        }
        if (ms.isEmpty()) {
            smallStreamChoice = "no matrix takes matmul_stream; not compared";
            return;
        }
        long maxCols = 0;
        long maxRows = 0;
        for (DeviceMatrix m : ms) {
            maxCols = Math.max(maxCols, m.cols());
            maxRows = Math.max(maxRows, m.rows());
        }
        int maxN = DeviceMatrix.MATVEC_MAX_TOKENS;
        double bound = ms.get(0).type() == GgmlType.BF16 ? 1e-2 : 2e-3;
        try (DeviceBuffer in = DeviceBuffer.allocate(4L * maxN * maxCols, "small stream check x");
             DeviceBuffer out = DeviceBuffer.allocate(4L * maxN * maxRows, "small stream check y")) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(23);
            float[] xs = uniform(rnd, (int) (maxN * maxCols));
            in.upload(xs, xs.length);
            double worst = 0;
            for (DeviceMatrix m : ms) {
                for (int n : new int[] {1, maxN}) {
                    float[][] got = new float[2][n * m.rows()];
                    for (int v = 0; v < 2; v++) {
                        model.skinny.kernels.small = v == 1;
                        m.matmul(k, in, out, n, model.skinny);
                        device.synchronize();
                        out.download(got[v], got[v].length);
                    }
                    worst = Math.max(worst, relativeDifference(got[1], got[0]));
                }
            }
            java.util.function.IntConsumer products = v -> {
                model.skinny.kernels.small = v == 1;
                for (DeviceMatrix m : ms) {
                    m.matmul(k, in, out, 1, model.skinny);
                }
            };
            long[] nanos = new long[2];
            for (int v = 0; v < 2; v++) {
                nanos[v] = graphs.nanos(products, v, CHOICE_REPS);
            }
            model.skinny.kernels.small = false;
            WithinTolerance both = new WithinTolerance(worst, bound, nanos);
            model.useSmallStream(both.adopt());
            model.bufferGeneration++;
            smallStreamChoice = String.format(java.util.Locale.ROOT,
                    "layer 0's Wo, gate, up, down and the output head at 1 token, %d CUDA graph replays: matvec %.1f us, "
                            + "matmul_stream %.1f us; max relative difference %.2e at 1 and %d tokens (bound %.0e)%s",
                    CHOICE_REPS, nanos[0] / 1e3 / CHOICE_REPS, nanos[1] / 1e3 / CHOICE_REPS, worst, maxN, bound,
                    both.verdict());
        }
    }

    /**
     * On a compute capability 9.x device with packed weights, decides whether the streaming products run from the
     * sm_90a module (wgmma.cuh: Hopper's warpgroup MMAs read the activations from shared memory once per 4 warps,
     * where each warp of the mma.sync kernels reads them into fragments itself, 4x its weight bytes at 64 tokens, and
     * issues 32 mma.sync per 2 KB of weights), on weights packed in that module's order. Each k16 step sums other k
     * than the mma.sync kernels' (whose packing permutes k), so the second way is adopted when layer 0's products and
     * the output head of 64 random tokens (grouped where that is on; the configuration chosen so far) are within 1e-4
     * of the mma.sync ones (max abs difference over max abs value; a wrong layout is off by order 1) and faster as
     * CUDA graphs. -Dinferstream.cuda.wgmma=on|off forces it (on needs the packed weights).
     */
    void chooseWgmma() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.wgmma");
        if (!k.wgmmaAvailable()) {
            wgmmaChoice = k.wgmmaStatus() + ignoredForce("inferstream.cuda.wgmma", forced);
            return;
        }
        if (!model.chosen.streaming || model.skinny == null || !model.chosen.packed) {
            wgmmaChoice = "the streaming products do not read packed weights; not compared"
                    + ignoredForce("inferstream.cuda.wgmma", forced);
            return;
        }
        if (forced != null) {
            model.useWgmma("on".equals(forced));
            wgmmaChoice = "forced by -Dinferstream.cuda.wgmma=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        List<DeviceMatrix> layer0 = List.of(w.wq[0], w.wk[0], w.wv[0], w.wo[0], w.gate[0], w.up[0], w.down[0], w.output);
        for (DeviceMatrix m : layer0) {
            if (!m.packable()) {
                wgmmaChoice = m + " is not packed for the streaming product; not compared";
                return;
            }
        }
        WithinTolerance both;
        try {
            for (DeviceMatrix m : layer0) {
                m.packForWgmma(k); // beside the mma.sync packing for the trial
            }
            ProductChain p = layerZeroProducts(n, 67, v -> model.skinny.kernels.wgmma = v == 1);
            both = withinTolerance(p.chain(), p.reset(), p.outs(), p.words(), 1e-4);
            wgmmaChoice = String.format(java.util.Locale.ROOT,
                    "layer 0's products and the output head, %d tokens%s, %d CUDA graph replays: mma.sync %.1f us, "
                            + "wgmma %.1f us; max relative difference %.2e%s", n, p.grouped() ? " (grouped)" : "", CHOICE_REPS,
                    both.nanos()[0] / 1e3 / CHOICE_REPS, both.nanos()[1] / 1e3 / CHOICE_REPS, both.worst(), both.verdict());
        } finally {
            model.skinny.kernels.wgmma = model.chosen.wgmma;
            for (DeviceMatrix m : layer0) {
                m.dropPackedWgmma(); // useWgmma below packs what it needs
            }
        }
        model.useWgmma(both.adopt());
        model.bufferGeneration++;
    }
}
