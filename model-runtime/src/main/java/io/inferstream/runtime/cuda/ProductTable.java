package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;

/** The bench's per-product table of a model's decode step: where its weight reads go, per product and token count. */
final class ProductTable extends KernelTrials {

    ProductTable(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs) {
        super(model, w, buf, graphs);
    }

    /**
     * Where a decode step's weight reads go: each product of a step (layer 0's Q/K/V, Wo, gate/up with SwiGLU and
     * down, and the output head) for each token count, launched exactly as {@link ForwardPass#launch} launches it (the
     * chosen kernels, grouped or not), timed as {@code reps} CUDA graph replays (eager where recording fails). A
     * markdown table: microseconds per product and weight GB/s (weight bytes / time). Token counts above the scratch
     * capacity are left out. Overwrites the activation scratch buffers (not the KV cache).
     */
    String markdown(int[] tokenCounts, int reps) {
        device.makeCurrent();
        String[] names = {"Q/K/V", "Wo", "gate/up + SwiGLU", "down", "output head"};
        String[] shapes = {
            (w.wq[0].rows() + w.wk[0].rows() + w.wv[0].rows()) + " x " + w.wq[0].cols(),
            w.wo[0].rows() + " x " + w.wo[0].cols(),
            "2 x " + w.gate[0].rows() + " x " + w.gate[0].cols(),
            w.down[0].rows() + " x " + w.down[0].cols(),
            w.output.rows() + " x " + w.output.cols()};
        long[] bytes = {w.wq[0].bytes() + w.wk[0].bytes() + w.wv[0].bytes(), w.wo[0].bytes(), w.gate[0].bytes() + w.up[0].bytes(),
            w.down[0].bytes(), w.output.bytes()};
        StringBuilder table = new StringBuilder("| product | rows x cols | weight MB |");
        StringBuilder rule = new StringBuilder("|---|---|---:|");
        List<Integer> ns = new ArrayList<>();
        for (int n : tokenCounts) {
            if (n >= 1 && n <= buf.capacity) {
                ns.add(n);
                table.append(" n=").append(n).append(" us | n=").append(n).append(" GB/s | n=").append(n).append(" kernel |");
                rule.append("---:|---:|---|");
            }
        }
        table.append('\n').append(rule).append('\n');
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(19);
        int maxN = 0;
        for (int n : ns) {
            maxN = Math.max(maxN, n);
        }
        for (DeviceBuffer b : new DeviceBuffer[] {buf.xb, buf.att, buf.hb}) { // the products' inputs
            int len = (int) Math.min(b.bytes() / 4, (long) maxN * config.hiddenDim());
            float[] v = new float[len];
            for (int i = 0; i < len; i++) {
                v[i] = (float) rnd.nextDouble(-1, 1);
            }
            b.upload(v, len);
        }
        int hidden = config.hiddenDim();
        for (int p = 0; p < names.length; p++) {
            table.append("| ").append(names[p]).append(" | ").append(shapes[p]).append(String.format(java.util.Locale.ROOT,
                    " | %.1f |", bytes[p] / 1e6));
            for (int n : ns) {
                int product = p;
                boolean groupedQkv = model.skinny != null && model.groupedSkinny && DeviceMatrix.groupable(n, w.wq[0], w.wk[0], w.wv[0]);
                boolean groupedFfn = model.skinny != null && model.groupedSkinny && DeviceMatrix.groupable(n, w.gate[0], w.up[0])
                        && w.gate[0].rows() == w.up[0].rows();
                java.util.function.IntConsumer launches = v -> {
                    switch (product) {
                        case 0 -> {
                            if (groupedQkv) {
                                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.wq[0], w.wk[0], w.wv[0]}, buf.xb,
                                        new DeviceBuffer[] {buf.q, buf.kBuf, buf.vBuf}, n, model.skinny, false);
                            } else {
                                DeviceMatrix.matmul3(k, w.wq[0], w.wk[0], w.wv[0], buf.xb, buf.q, buf.kBuf, buf.vBuf, n, model.skinny);
                            }
                        }
                        case 1 -> w.wo[0].matmul(k, buf.att, buf.x, n, model.skinny);
                        case 2 -> {
                            if (groupedFfn) {
                                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {w.gate[0], w.up[0]}, buf.xb, new DeviceBuffer[] {buf.hb2, null},
                                        n, model.skinny, true);
                            } else {
                                w.gate[0].matmul(k, buf.xb, buf.hb2, n, model.skinny);
                                w.up[0].matmul(k, buf.xb, buf.hb, n, model.skinny); // hb: down's input, any finite values do
                                k.launch("swiglu", CudaKernels.blocks(n * hidden), 1, 256, 0, buf.hb2, buf.hb, n * hidden);
                            }
                        }
                        case 3 -> w.down[0].matmul(k, buf.hb, buf.x, n, model.skinny);
                        default -> w.output.matmul(k, buf.xb, buf.logits, n, model.skinny);
                    }
                };
                long t = graphs.nanos(launches, 0, reps);
                boolean eager = t < 0;
                if (eager) {
                    t = eagerNanos(launches, 0, reps);
                }
                double us = t / 1e3 / reps;
                DeviceMatrix first = new DeviceMatrix[] {w.wq[0], w.wo[0], w.gate[0], w.down[0], w.output}[product];
                String kernel = n <= DeviceMatrix.MATVEC_MAX_TOKENS
                        ? (product == 0 ? "matvec3_vec" : model.chosen.small && first.takesSkinny(SkinnyScratch.MAX_TOKENS) ? "matmul_stream" : "matvec")
                        : model.skinny == null || !first.takesSkinny(n) ? "wmma/tiled"
                        : model.skinnyKernelName() + ((product == 0 && groupedQkv) || (product == 2 && groupedFfn) ? " grouped" : "")
                                + (model.chosen.streaming && model.chosen.packed ? (model.chosen.streamTall ? ", packed, tall if filling" : ", packed") : "");
                table.append(String.format(java.util.Locale.ROOT, " %.1f | %.0f | %s%s |", us, bytes[p] / (us * 1e3), kernel,
                        eager ? " (eager)" : ""));
            }
            table.append('\n');
        }
        return table.toString();
    }
}
