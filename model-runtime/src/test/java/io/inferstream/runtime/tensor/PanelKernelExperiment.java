package io.inferstream.runtime.tensor;

import jdk.incubator.vector.FloatVector;

import java.util.Random;

/**
 * Not a test: does a broadcast ("outer-product") register kernel over k-major weight panels beat the packed
 * dot-product kernel ({@link SimdFloatKernels#tile2x6} + {@link SimdFloatKernels#finishTile})? One thread, CPU
 * time, weights already decoded to floats in both layouts (so only the kernels and their data layout differ).
 * Args: rows cols n. Run like {@link MatmulBenchmark}.
 */
public final class PanelKernelExperiment {

    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final int L = SimdFloatKernels.LANES;
    private static final int PANEL = 2 * L; // rows per panel
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[12 * L]);

    public static void main(String[] args) {
        int rows = Integer.parseInt(args[0]);
        int cols = Integer.parseInt(args[1]);
        int n = Integer.parseInt(args[2]);
        Random rnd = new Random(1);
        float[] w = new float[rows * cols];
        float[] x = new float[n * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        // panels: panel p holds rows [16p, 16p+16) as [cols][16]
        float[] wp = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                wp[(r / PANEL) * PANEL * cols + c * PANEL + r % PANEL] = w[r * cols + c];
            }
        }
        float[] outA = new float[n * rows];
        float[] outB = new float[n * rows];
        for (int rep = 0; rep < 3; rep++) {
            double a = time(() -> dotKernel(w, x, outA, rows, cols, n));
            double b = time(() -> panelKernel(wp, x, outB, rows, cols, n));
            double maxDiff = 0;
            for (int i = 0; i < outA.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(outA[i] - outB[i]) / (1 + Math.abs(outA[i])));
            }
            double flop = 2.0 * rows * cols * n;
            System.out.printf("%dx%d n=%d: tile2x6 %.1f GFLOP/s, panel 16x6 %.1f GFLOP/s (max rel diff %.1e)%n",
                    rows, cols, n, flop / a / 1e9, flop / b / 1e9, maxDiff);
        }
    }

    private static double time(Runnable r) {
        long end = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < end) {
            r.run();
        }
        int iters = 0;
        long c0 = CPU.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        do {
            r.run();
            iters++;
        } while (System.nanoTime() - t0 < 1_000_000_000L);
        return (CPU.getCurrentThreadCpuTime() - c0) / 1e9 / iters;
    }

    /** Today's batched path on float rows: 8-row tasks, six-token tiles, 2x6 kernel, lane sums. */
    static void dotKernel(float[] w, float[] x, float[] out, int rows, int cols, int n) {
        int groups = cols / L;
        int tiles = (n + 5) / 6;
        float[] xp = new float[tiles * 6 * groups * L];
        SimdFloatKernels.packTokens(x, n, cols, xp);
        float[] acc = new float[12 * L];
        int tileStride = groups * 6 * L;
        for (int r0 = 0; r0 < rows; r0 += 8) {
            for (int t0 = 0, tile = 0; t0 < n; t0 += 6, tile++) {
                int tokens = Math.min(6, n - t0);
                for (int i = 0; i < 8; i += 2) {
                    int wa = (r0 + i) * cols;
                    SimdFloatKernels.tile2x6(w, wa, wa + cols, xp, tile * tileStride, groups, acc);
                    SimdFloatKernels.finishTile(acc, w, wa, wa + cols, x, cols, groups * L, t0, tokens, out, r0 + i, rows, true);
                }
            }
        }
    }

    /** Broadcast kernel: x packed [tile][c][6]; per 16-row panel and six-token tile, 12 accumulators over c. */
    static void panelKernel(float[] wp, float[] x, float[] out, int rows, int cols, int n) {
        int tiles = (n + 5) / 6;
        float[] xt = new float[tiles * cols * 6];
        for (int t = 0; t < n; t++) {
            int base = (t / 6) * cols * 6 + t % 6;
            for (int c = 0; c < cols; c++) {
                xt[base + c * 6] = x[t * cols + c];
            }
        }
        for (int p = 0; p < rows / PANEL; p++) {
            for (int tile = 0; tile < tiles; tile++) {
                panel16x6(wp, p * PANEL * cols, xt, tile * cols * 6, cols, out, tile * 6, Math.min(6, n - tile * 6), rows, p * PANEL);
            }
        }
    }

    static void panel16x6(float[] wp, int wo, float[] xt, int xo, int cols, float[] out, int t0, int tokens, int rows, int r0) {
        var f = SimdFloatKernels.F;
        FloatVector a0 = FloatVector.zero(f);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector a4 = a0;
        FloatVector a5 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        FloatVector b4 = a0;
        FloatVector b5 = a0;
        for (int c = 0, wi = wo, xi = xo; c < cols; c++, wi += PANEL, xi += 6) {
            FloatVector u = FloatVector.fromArray(f, wp, wi);
            FloatVector s = FloatVector.fromArray(f, wp, wi + L);
            FloatVector v = FloatVector.broadcast(f, xt[xi]);
            a0 = u.fma(v, a0);
            b0 = s.fma(v, b0);
            v = FloatVector.broadcast(f, xt[xi + 1]);
            a1 = u.fma(v, a1);
            b1 = s.fma(v, b1);
            v = FloatVector.broadcast(f, xt[xi + 2]);
            a2 = u.fma(v, a2);
            b2 = s.fma(v, b2);
            v = FloatVector.broadcast(f, xt[xi + 3]);
            a3 = u.fma(v, a3);
            b3 = s.fma(v, b3);
            v = FloatVector.broadcast(f, xt[xi + 4]);
            a4 = u.fma(v, a4);
            b4 = s.fma(v, b4);
            v = FloatVector.broadcast(f, xt[xi + 5]);
            a5 = u.fma(v, a5);
            b5 = s.fma(v, b5);
        }
        float[] acc = ACC.get();
        a0.intoArray(acc, 0);
        b0.intoArray(acc, L);
        a1.intoArray(acc, 2 * L);
        b1.intoArray(acc, 3 * L);
        a2.intoArray(acc, 4 * L);
        b2.intoArray(acc, 5 * L);
        a3.intoArray(acc, 6 * L);
        b3.intoArray(acc, 7 * L);
        a4.intoArray(acc, 8 * L);
        b4.intoArray(acc, 9 * L);
        a5.intoArray(acc, 10 * L);
        b5.intoArray(acc, 11 * L);
        for (int j = 0; j < tokens; j++) {
            System.arraycopy(acc, j * PANEL, out, (t0 + j) * rows + r0, PANEL);
        }
    }
}
