package io.inferstream.runtime.bench;

import java.util.Arrays;

/** Nearest-rank percentiles of a sample. */
public final class Percentiles {

    private Percentiles() {
    }

    /** The {@code q}-th percentiles (0 < q ≤ 100) of {@code values}, NaN entries ignored; NaN when empty. */
    public static double[] of(double[] values, double... q) {
        double[] v = Arrays.stream(values).filter(x -> !Double.isNaN(x)).sorted().toArray();
        double[] out = new double[q.length];
        for (int i = 0; i < q.length; i++) {
            if (v.length == 0) {
                out[i] = Double.NaN;
            } else {
                int rank = (int) Math.ceil(q[i] / 100.0 * v.length);
                out[i] = v[Math.max(0, Math.min(v.length - 1, rank - 1))];
            }
        }
        return out;
    }
}
