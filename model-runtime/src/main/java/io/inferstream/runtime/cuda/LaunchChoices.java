package io.inferstream.runtime.cuda;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.TokenBatch;

/**
 * The load-time choice of how kernels are launched, made after every kernel choice: whether the kernels that wait for
 * their predecessor go out as programmatic dependent launches (compute capability 9.x, see
 * {@link CudaLlamaModel#useProgrammaticLaunch}). What that changes is the gaps between kernels, so the trial is a
 * whole decode step of the model as chosen so far, recorded as a CUDA graph both ways.
 */
final class LaunchChoices extends KernelTrials {

    String programmaticLaunchChoice = "not compared";

    LaunchChoices(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs) {
        super(model, w, buf, graphs);
    }

    /**
     * A decode step of min(64, capacity) random tokens of as many sequences (positions 0..15 over one 16-position block
     * each, every position's keys and values written by earlier trial steps) with its logits, launched the usual way
     * and programmatically. The kernels are the same either way except the compute_90 twins of the norms, attention
     * and splitk_reduce (the same source), so the logits must agree within 1e-5 (max abs difference over max abs
     * value); adopted when they do and the programmatic step is faster as a CUDA graph.
     * -Dinferstream.cuda.programmaticLaunch=on|off forces it.
     */
    void chooseProgrammaticLaunch() {
        String forced = CudaLlamaModel.onOff("inferstream.cuda.programmaticLaunch");
        if (!k.programmaticAvailable()) {
            programmaticLaunchChoice = k.programmaticStatus() + ignoredForce("inferstream.cuda.programmaticLaunch", forced);
            return;
        }
        if (forced != null) {
            model.useProgrammaticLaunch("on".equals(forced));
            programmaticLaunchChoice = "forced by -Dinferstream.cuda.programmaticLaunch=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, buf.capacity);
        int bs = 16;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(71);
        int[][] tables = new int[n][];
        int[] tokens = new int[n];
        int[] rows = new int[n];
        for (int t = 0; t < n; t++) {
            tables[t] = new int[] {t};
            rows[t] = t;
        }
        WithinTolerance r;
        try (CudaKvStore kv = (CudaKvStore) model.newKvStore(n, bs, KvStore.Precision.F16)) {
            // fill each sequence's block with the keys and values of positions 0..14, one step per position
            StepShape shape = null;
            for (int p = 0; p < bs; p++) {
                for (int t = 0; t < n; t++) {
                    tokens[t] = rnd.nextInt(config.vocabSize());
                }
                int[] pos = new int[n];
                java.util.Arrays.fill(pos, p);
                shape = model.prepare(new TokenBatch(tokens.clone(), pos, rows.clone(), tables, rows.clone()), kv);
                if (p + 1 < bs) {
                    model.pass.launch(shape, kv, false);
                }
            }
            StepShape last = shape; // position 15: the step compared and timed (it rewrites only its own row)
            r = withinTolerance(v -> {
                k.useProgrammatic(v == 1);
                model.pass.launch(last, kv, true);
            }, () -> { }, new DeviceBuffer[] {buf.logits}, new int[] {n * config.vocabSize()}, 1e-5);
        } finally {
            k.useProgrammatic(model.programmaticLaunch);
        }
        programmaticLaunchChoice = String.format(java.util.Locale.ROOT,
                "a decode step of %d tokens at position %d, %d CUDA graph replays: usual launches %.1f us, programmatic "
                        + "%.1f us (%d kernels wait for their predecessor); max relative difference of the logits %.2e%s",
                n, bs - 1, CHOICE_REPS, r.nanos()[0] / 1e3 / CHOICE_REPS, r.nanos()[1] / 1e3 / CHOICE_REPS,
                k.programmaticKernels().size(), r.worst(), r.verdict())
                + (k.legacyStreamRefusal() == null ? "" : "; eager launches go out as usual (the legacy stream refused: "
                        + k.legacyStreamRefusal() + ")");
        model.useProgrammaticLaunch(r.adopt());
    }
}
