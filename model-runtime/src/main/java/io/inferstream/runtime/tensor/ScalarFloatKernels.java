package io.inferstream.runtime.tensor;

/** Plain-loop versions of {@link SimdFloatKernels}' element-wise ops: the fallback without the Vector API. */
final class ScalarFloatKernels {

    private ScalarFloatKernels() {
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float sum = 0;
        for (int i = 0; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    static void keyScores(float[] q, int qa, int qb, boolean two, float[] kT, int kOff, int stride, int count, int len,
                          float scale, float[] out, int oa, int ob) {
        for (int i = 0; i < count; i++) {
            out[oa + i] = keyScore(q, qa, kT, kOff + i, stride, len, scale);
            if (two) {
                out[ob + i] = keyScore(q, qb, kT, kOff + i, stride, len, scale);
            }
        }
    }

    /**
     * scale · Σ_d q[qOff + d]·kT[kOff + d·stride] as {@code SimdFloatKernels.keyScores} computes one lane: FMA
     * chains over d &lt; len/2 and over d ≥ len/2, added.
     */
    static float keyScore(float[] q, int qOff, float[] kT, int kOff, int stride, int len, float scale) {
        int half = len / 2;
        float lo = 0;
        float hi = 0;
        for (int d = 0; d < half; d++) {
            lo = Math.fma(kT[kOff + d * stride], q[qOff + d], lo);
            hi = Math.fma(kT[kOff + (half + d) * stride], q[qOff + half + d], hi);
        }
        return (lo + hi) * scale;
    }

    static void axpyRows(float[] a, int aOff, float[] v, int vOff, int stride, int count, float[] y, int yOff, int len) {
        for (int i = 0; i < count; i++) {
            axpy(a[aOff + i], v, vOff + i * stride, y, yOff, len);
        }
    }

    static float sumOfSquares(float[] x, int off, int n) {
        return dot(x, off, x, off, n);
    }

    static void scaledProduct(float[] out, int outOff, float[] x, int xOff, float[] w, float s, int n) {
        for (int i = 0; i < n; i++) {
            out[outOff + i] = w[i] * (s * x[xOff + i]);
        }
    }

    static float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    static void add(float[] dst, int dOff, float[] src, int sOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dOff + i] += src[sOff + i];
        }
    }

    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    static void scale(float[] x, int off, int n, float s) {
        for (int i = 0; i < n; i++) {
            x[off + i] *= s;
        }
    }

    static void mul(float[] a, float[] b, int off, int n) {
        for (int i = 0; i < n; i++) {
            a[off + i] *= b[off + i];
        }
    }

    /** {@code SimdFloatKernels.fmaChains} with one float per chain. */
    static double fmaChains(int iterations) {
        float[] a = new float[12];
        java.util.Arrays.fill(a, 1f);
        for (int i = 0; i < iterations; i++) {
            for (int j = 0; j < 12; j++) {
                a[j] = Math.fma(a[j], 0.999f, 0.001f);
            }
        }
        double sum = 0;
        for (float v : a) {
            sum += v;
        }
        return sum;
    }
}
