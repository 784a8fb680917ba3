package io.inferstream.runtime.cuda;


import java.util.Locale;

/**
 * Where a forward step's time goes on the device: the model synchronizes after each part and charges the
 * wall time since the previous mark to it. Only for benchmarks (synchronizing serializes host and device).
 */
public final class StepProfile {

    /** Parts of a step, in the order the model runs them. */
    public enum Part { METADATA, EMBED, NORM, QKV_MATMUL, ROPE_KV, ATTENTION, WO_MATMUL, FFN_MATMUL, ELEMENTWISE, OUTPUT_MATMUL }

    private final long[] nanos = new long[Part.values().length];
    private long last;
    private int steps;

    void start() {
        ContextLock.synchronizeCurrent();
        last = System.nanoTime();
        steps++;
    }

    void mark(Part part) {
        ContextLock.synchronizeCurrent();
        long now = System.nanoTime();
        nanos[part.ordinal()] += now - last;
        last = now;
    }

    /**
     * One line per part: ms per step, share, and for matrix products the weight bandwidth reached.
     *
     * @param bytes weight bytes read per step by each part (0 where none)
     */
    public String report(long[] bytes) {
        StringBuilder sb = new StringBuilder("| part | ms/step | share | weight GB/s |\n|---|---:|---:|---:|\n");
        long total = 0;
        for (long n : nanos) {
            total += n;
        }
        for (Part p : Part.values()) {
            double ms = nanos[p.ordinal()] / 1e6 / Math.max(1, steps);
            String gbps = bytes[p.ordinal()] > 0 && ms > 0
                    ? String.format(Locale.ROOT, "%.0f", bytes[p.ordinal()] / 1e9 / (ms / 1e3)) : "";
            sb.append(String.format(Locale.ROOT, "| %s | %.3f | %.0f%% | %s |%n", p, ms,
                    100.0 * nanos[p.ordinal()] / Math.max(1, total), gbps));
        }
        sb.append(String.format(Locale.ROOT, "| total (synchronized) | %.3f | 100%% | |%n", total / 1e6 / Math.max(1, steps)));
        return sb.toString();
    }
}
