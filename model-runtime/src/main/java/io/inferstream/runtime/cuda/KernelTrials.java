package io.inferstream.runtime.cuda;

import java.util.List;

import io.inferstream.runtime.model.ModelConfig;

/**
 * Trials of kernels on a model's own weights and scratch buffers: the measuring kit of its load-time kernel choices
 * ({@link ProductKernelChoices}, {@link EpilogueKernelChoices}) and of its product table. Each trial runs ways on the
 * same random inputs, compares their outputs (bit for bit, or within a tolerance where the summation order differs)
 * and times their launches as CUDA graph replays, as decode steps run them. Trials overwrite the scratch buffers,
 * never the KV cache.
 */
abstract class KernelTrials {

    final CudaLlamaModel model;
    final CudaDevice device;
    final CudaKernels k;
    final ModelConfig config;
    final int qDim;
    final DeviceWeights w;
    final StepBuffers buf;
    final StepGraphs graphs;

    KernelTrials(CudaLlamaModel model, DeviceWeights w, StepBuffers buf, StepGraphs graphs) {
        this.model = model;
        this.device = model.device();
        this.k = device.kernels();
        this.config = model.config();
        this.qDim = config.nHeads() * config.headDim();
        this.w = w;
        this.buf = buf;
        this.graphs = graphs;
    }

    /** What a choice's line adds when -D{@code property}={@code forced} could not be applied ("" when not forced). */
    static String ignoredForce(String property, String forced) {
        return forced != null ? " (-D" + property + "=" + forced + " ignored)" : "";
    }

    /**
     * CUDA graph replays per candidate of every timed load-time trial: 20, or -Dinferstream.cuda.trialReplays (at least
     * 1) where a device is too slow for 20 (the emulated driver of EmulatedDeviceTest).
     */
    static final int CHOICE_REPS = Math.max(1, Integer.getInteger("inferstream.cuda.trialReplays", 20));

    /** {@code count} values drawn uniformly from [-1, 1): the random inputs of the trials. */
    static float[] uniform(java.util.SplittableRandom rnd, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) {
            a[i] = (float) rnd.nextDouble(-1, 1);
        }
        return a;
    }

    /** Max |a - b| over max |b| (0 when b is all zero and a equals it); NaN anywhere gives infinity. */
    static double relativeDifference(float[] a, float[] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            diff = Math.max(diff, d);
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff == 0 ? 0 : scale == 0 ? Double.POSITIVE_INFINITY : diff / scale;
    }

    /**
     * Two ways of the same products compared within a tolerance: the largest relative difference of their outputs, the
     * bound it must stay within, and each way's time for {@code CHOICE_REPS} CUDA graph replays (-1 where recording
     * failed).
     */
    record WithinTolerance(double worst, double bound, long[] nanos) {
        boolean close() {
            return worst <= bound;
        }

        /** The second way is taken only when its outputs were within the bound and it was faster. */
        boolean adopt() {
            return close() && nanos[0] > 0 && nanos[1] > 0 && nanos[1] < nanos[0];
        }

        /** What a choice's line ends with: nothing when compared cleanly, else why the second way was not adopted. */
        String verdict() {
            return close() ? (nanos[0] > 0 && nanos[1] > 0 ? "" : "; graph recording failed, not adopted") : ": DIFFER, not adopted";
        }
    }

    /**
     * Two ways of the same step fragment compared: whether every output had the same bits both ways, and each way's
     * time for {@code CHOICE_REPS} CUDA graph replays (-1 where recording failed).
     */
    record BothWays(boolean equal, long[] nanos) {
        boolean timed() {
            return nanos[0] > 0 && nanos[1] > 0;
        }

        /** The second way is taken only when it gave the same bits and was faster. */
        boolean adopt() {
            return equal && timed() && nanos[1] < nanos[0];
        }

        /** These timings with {@code other}'s bits as well. */
        BothWays and(BothWays other) {
            return new BothWays(equal && other.equal, nanos);
        }

        String outcome(String first, String second) {
            return String.format(java.util.Locale.ROOT, "%d CUDA graph replays: %s %.1f us, %s %.1f us; outputs %s",
                    CHOICE_REPS, first, nanos[0] / 1e3 / CHOICE_REPS, second, nanos[1] / 1e3 / CHOICE_REPS,
                    equal ? "bitwise equal" + (timed() ? "" : "; graph recording failed, not adopted") : "DIFFER, not adopted");
        }
    }

    /**
     * Runs {@code chain} way 0 (the proven kernels) and way 1 (the candidate), each eagerly after {@code reset}, reads
     * the first {@code words[o]} 32-bit words of each output, then times both ways as CUDA graphs.
     */
    BothWays bothWays(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words) {
        float[][][] got = outputsBothWays(chain, reset, outs, words);
        boolean equal = true;
        for (int o = 0; o < outs.length; o++) {
            for (int i = 0; i < words[o]; i++) {
                equal &= Float.floatToRawIntBits(got[0][o][i]) == Float.floatToRawIntBits(got[1][o][i]);
            }
        }
        return new BothWays(equal, new long[] {graphs.nanos(chain, 0, CHOICE_REPS), graphs.nanos(chain, 1, CHOICE_REPS)});
    }

    /**
     * As {@link #bothWays}, for ways that may round differently: the largest relative difference of the outputs (as
     * floats) of way 1 against way 0, within {@code bound} or not, and both ways timed as CUDA graphs.
     */
    WithinTolerance withinTolerance(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words,
                                    double bound) {
        float[][][] got = outputsBothWays(chain, reset, outs, words);
        double worst = 0;
        for (int o = 0; o < outs.length; o++) {
            worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
        }
        return new WithinTolerance(worst, bound, new long[] {graphs.nanos(chain, 0, CHOICE_REPS), graphs.nanos(chain, 1, CHOICE_REPS)});
    }

    /** The first {@code words[o]} 32-bit words of each output after way 0 and after way 1, each run eagerly after reset. */
    private float[][][] outputsBothWays(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words) {
        float[][][] got = new float[2][outs.length][];
        for (int v = 0; v < 2; v++) {
            reset.run();
            chain.accept(v);
            device.synchronize();
            for (int o = 0; o < outs.length; o++) {
                got[v][o] = new float[words[o]];
                if (words[o] > 0) {
                    outs[o].download(got[v][o], words[o]);
                }
            }
        }
        return got;
    }

    /** A scratch buffer of the load-time choices, registered in {@code temp} (freed by the caller), with data if given. */
    static DeviceBuffer temp(List<DeviceBuffer> temp, long bytes, float[] data) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes, "load-time kernel choice");
        temp.add(b);
        if (data != null) {
            b.upload(data, data.length);
        }
        return b;
    }

    /** Nanoseconds of {@code reps} runs of variants 0 and 1, as CUDA graph replays (eager where recording fails). */
    long[] timed(java.util.function.IntConsumer launches, int reps) {
        long[] nanos = new long[2];
        for (int v = 0; v < 2; v++) {
            long t = graphs.nanos(launches, v, reps);
            nanos[v] = t < 0 ? eagerNanos(launches, v, reps) : t;
        }
        return nanos;
    }

    /**
     * Nanoseconds of {@code reps} eager runs of {@code launches.accept(v)} after one untimed run: where the driver
     * refuses to record a graph (this times the host's launches as much as the GPU).
     */
    long eagerNanos(java.util.function.IntConsumer launches, int v, int reps) {
        launches.accept(v);
        device.synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            launches.accept(v);
        }
        device.synchronize();
        return System.nanoTime() - t0;
    }
}
