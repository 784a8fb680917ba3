package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.inferstream.runtime.model.Experts;

/**
 * The load-time choice of a mixture of experts: from how many slots per expert (n · used / count, on average over a
 * step) its experts run on tensor cores (moe_mma_*, moe_quant_mma_*: 64-slot tiles, inputs rounded to 16 bits) rather
 * than on CUDA cores (moe_gate_up / moe_down: each weight row read once per 8 slots). Layer 0's whole expert block
 * (router, routing, grouping, both products, combine) runs both ways on the same random activations at 4, 8, 16, 32 and
 * 64 slots per expert (the step sizes that fit the model's batch); the threshold is the smallest density from which
 * tensor cores are faster at every tested density, and stays {@link DeviceExpertFeedForward#TENSOR_CORE_SLOTS} where
 * the outputs differ by more than the 16-bit rounding of the inputs. -Dinferstream.cuda.expertTensorCores=on|off forces
 * either way in every step.
 */
final class ExpertKernelChoices extends KernelTrials {

    static final String PROPERTY = "inferstream.cuda.expertTensorCores";
    private static final int[] DENSITIES = {4, 8, 16, 32, 64};

    private final DeviceExpertFeedForward moe;
    String choice = "not chosen";

    ExpertKernelChoices(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs, DeviceExpertFeedForward moe) {
        super(model, w, buf, graphs);
        this.moe = moe;
    }

    void chooseTensorCores() {
        String forced = CudaLlamaModel.onOff(PROPERTY);
        if (forced != null) {
            moe.useTensorCores(forced.equals("on"));
            choice = (forced.equals("on") ? "tensor cores (moe_mma) in every step" : "CUDA cores in every step")
                    + " (forced by -D" + PROPERTY + "=" + forced + ")";
            return;
        }
        Experts e = config.block().experts();
        List<Integer> densities = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (int d : DENSITIES) {
            int n = (int) ((long) d * e.count() + e.used() - 1) / e.used();
            if (n <= buf.capacity) {
                densities.add(d);
                sizes.add(n);
            }
        }
        if (densities.size() < 2) {
            choice = moe.tensorCoreChoice() + " (steps of at most " + buf.capacity + " tokens: too few densities to compare)";
            return;
        }
        boolean bf16 = w.experts[0].gate.type() == io.inferstream.runtime.gguf.GgmlType.BF16;
        double bound = bf16 ? 2e-2 : 5e-3; // the inputs' 16-bit rounding, through two products and the SwiGLU
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(71);
        StringBuilder timings = new StringBuilder();
        boolean[] faster = new boolean[densities.size()];
        double worst = 0;
        try {
            for (int i = 0; i < sizes.size(); i++) {
                int n = sizes.get(i);
                float[] xs = uniform(rnd, n * config.dim());
                java.util.function.IntConsumer chain = v -> {
                    moe.useTensorCores(v == 1);
                    moe.forward(k, w.experts[0], buf.xb, n, model.skinny);
                };
                WithinTolerance both = withinTolerance(chain, () -> buf.xb.upload(xs, xs.length), new DeviceBuffer[] {buf.xb},
                        new int[] {n * config.dim()}, bound);
                worst = Math.max(worst, both.worst());
                faster[i] = both.adopt();
                timings.append(String.format(Locale.ROOT, "%s%d (%d tokens): %.1f / %.1f us", i == 0 ? "" : ", ", densities.get(i), n,
                        both.nanos()[0] / 1e3 / CHOICE_REPS, both.nanos()[1] / 1e3 / CHOICE_REPS));
            }
        } finally {
            moe.useTensorCores(null);
        }
        int from = Integer.MAX_VALUE; // the smallest density from which every tested one was faster on tensor cores
        for (int i = densities.size() - 1; i >= 0 && faster[i]; i--) {
            from = densities.get(i);
        }
        String measured = String.format(Locale.ROOT, "layer 0's expert block on CUDA cores / tensor cores, %d CUDA graph "
                + "replays, by slots per expert: %s; max relative difference %.2e", CHOICE_REPS, timings, worst);
        if (worst > bound) {
            choice = moe.tensorCoreChoice() + " (" + measured + ": DIFFER beyond " + bound + ", the default kept)";
            return;
        }
        moe.useTensorCoreSlots(from);
        model.bufferGeneration++; // recorded graphs hold the other launches
        choice = moe.tensorCoreChoice() + " (" + measured + ")";
    }
}
