package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;

/**
 * The small kernels of the forward pass. Each uses the Vector API ({@code SimdFloatKernels}) when
 * {@link VectorApiSupport} enables it and plain loops ({@code ScalarFloatKernels}) otherwise; both give
 * the same result up to float summation order and, for {@link #softmax} and {@link #silu}, the last bit
 * of exp (the vector path uses {@code SimdExp}'s polynomial, ~25× faster than {@link Math#exp}, which
 * the plain loops keep).
 */
public final class VectorMath {

    private static final boolean SIMD = VectorApiSupport.ENABLED;

    private VectorMath() {
    }

    /** True when the Vector API kernels are in use. */
    public static boolean vectorized() {
        return SIMD;
    }

    /** Which kernels run, for logs: "Vector API, 256-bit float vectors, 2-row tiles" or "scalar loops". */
    public static String kernelDescription() {
        return VectorApiSupport.describe();
    }

    /** Σ a[aOff+i]·b[bOff+i] over i &lt; n. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return SIMD ? SimdFloatKernels.dot(a, aOff, b, bOff, n) : ScalarFloatKernels.dot(a, aOff, b, bOff, n);
    }

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        return ScalarFloatKernels.dot(a, aOff, b, bOff, n);
    }

    /** RMSNorm (llama): out = weight ⊙ x / sqrt(mean(x²) + eps), weight[0..n). {@code out} may be {@code x}. */
    public static void rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = SIMD ? SimdFloatKernels.sumOfSquares(x, xOff, n) : ScalarFloatKernels.sumOfSquares(x, xOff, n);
        float s = (float) (1.0 / Math.sqrt(ss / n + eps));
        if (SIMD) {
            SimdFloatKernels.scaledProduct(out, outOff, x, xOff, weight, s, n);
        } else {
            ScalarFloatKernels.scaledProduct(out, outOff, x, xOff, weight, s, n);
        }
    }

    /** In-place softmax of x[off .. off+n), max-subtracted so it never overflows. */
    public static void softmax(float[] x, int off, int n) {
        softmax(x, off, n, null, 0);
    }

    /**
     * In-place softmax of x[off .. off+n), writing its max and its denominator Σ exp(x − max) to stats[at] and
     * stats[at + 1] (when stats is not null): what combining the softmaxes of several ranges needs.
     */
    public static void softmax(float[] x, int off, int n, float[] stats, int at) {
        float max;
        float sum;
        if (SIMD) {
            max = SimdFloatKernels.max(x, off, n);
            sum = SimdExp.softmax(x, off, n, max);
        } else {
            max = ScalarFloatKernels.max(x, off, n);
            sum = 0;
            for (int i = 0; i < n; i++) {
                float e = (float) Math.exp(x[off + i] - max);
                x[off + i] = e;
                sum += e;
            }
            scale(x, off, n, 1.0f / sum);
        }
        if (stats != null) {
            stats[at] = max;
            stats[at + 1] = sum;
        }
    }

    /** log Σ exp(x[off + i]) over i &lt; n (a log-softmax denominator), max-subtracted so it never overflows. */
    public static double logSumExp(float[] x, int off, int n) {
        float max = SIMD ? SimdFloatKernels.max(x, off, n) : ScalarFloatKernels.max(x, off, n);
        double sum = 0;
        if (SIMD) {
            sum = SimdExp.expShifted(x, off, n, max, 1f, null);
        } else {
            for (int i = 0; i < n; i++) {
                sum += Math.exp(x[off + i] - max);
            }
        }
        return max + Math.log(sum);
    }

    /** dst[i] = exp((x[off + i] − max) · scale) for i &lt; n (sampling weights at a temperature); returns Σ dst. */
    public static double expShifted(float[] x, int off, int n, float max, float scale, float[] dst) {
        if (SIMD) {
            return SimdExp.expShifted(x, off, n, max, scale, dst);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            dst[i] = (float) Math.exp((x[off + i] - max) * scale);
            sum += dst[i];
        }
        return sum;
    }

    /** In-place SiLU: x·σ(x). */
    public static void silu(float[] x, int off, int n) {
        if (SIMD) {
            SimdExp.silu(x, off, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            x[off + i] = v / (1.0f + (float) Math.exp(-v));
        }
    }

    /** SwiGLU: gate = silu(gate) ⊙ up, over [off, off+n) of both arrays. */
    public static void swiglu(float[] gate, float[] up, int off, int n) {
        if (SIMD) {
            SimdExp.swiglu(gate, up, off, n);
        } else {
            silu(gate, off, n);
            ScalarFloatKernels.mul(gate, up, off, n);
        }
    }

    /** −2u = x·(GELU_LINEAR + GELU_CUBIC·x²) for GELU's u = sqrt(2/π)·(x + 0.044715·x³). */
    static final float GELU_LINEAR = (float) (-2 * Math.sqrt(2 / Math.PI));
    static final float GELU_CUBIC = (float) (-2 * Math.sqrt(2 / Math.PI) * 0.044715);

    /**
     * GeGLU (Gemma): gate = gelu(gate) ⊙ up over [off, off+n), GELU in its tanh approximation
     * (transformers' gelu_pytorch_tanh, ggml_gelu): 0.5·x·(1 + tanh(u)) with u = sqrt(2/π)·(x + 0.044715·x³), computed
     * as x / (1 + exp(−2u)), the same value without a tanh.
     */
    public static void geglu(float[] gate, float[] up, int off, int n) {
        if (SIMD) {
            SimdExp.geglu(gate, up, off, n);
            return;
        }
        for (int i = off; i < off + n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(g * Math.fma(g * g, GELU_CUBIC, GELU_LINEAR))) * up[i];
        }
    }

    /** dst += src. */
    public static void add(float[] dst, int dOff, float[] src, int sOff, int n) {
        if (SIMD) {
            SimdFloatKernels.add(dst, dOff, src, sOff, n);
        } else {
            ScalarFloatKernels.add(dst, dOff, src, sOff, n);
        }
    }

    /** y += a·x. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        if (SIMD) {
            SimdFloatKernels.axpy(a, x, xOff, y, yOff, n);
        } else {
            ScalarFloatKernels.axpy(a, x, xOff, y, yOff, n);
        }
    }

    /**
     * Attention scores over one KV block whose keys are stored transposed (position i, dimension d at
     * kT[kOff + d·stride + i]): out[oa + i] = scale · Σ_d q[qa + d]·kT[kOff + d·stride + i] for i &lt; count, and
     * the same for a second head (q[qb..] into out[ob..]) when {@code two}. Each score is bitwise the same
     * whichever vector lane or scalar tail computes it. {@code len} (the head size) must be even; up to one
     * vector's length of out past count may be overwritten.
     */
    public static void keyScores(float[] q, int qa, int qb, boolean two, float[] kT, int kOff, int stride, int count,
                                 int len, float scale, float[] out, int oa, int ob) {
        if (SIMD) {
            SimdFloatKernels.keyScores(q, qa, qb, two, kT, kOff, stride, count, len, scale, out, oa, ob);
        } else {
            ScalarFloatKernels.keyScores(q, qa, qb, two, kT, kOff, stride, count, len, scale, out, oa, ob);
        }
    }

    /**
     * {@link #keyScores} for three heads (q[qa..], q[qb..], q[qc..] into out[oa..], out[ob..], out[oc..]): each key
     * loaded once for all three, scores bitwise those {@code keyScores} gives.
     */
    public static void keyScores3(float[] q, int qa, int qb, int qc, float[] kT, int kOff, int stride, int count,
                                  int len, float scale, float[] out, int oa, int ob, int oc) {
        if (SIMD) {
            SimdFloatKernels.keyScores3(q, qa, qb, qc, kT, kOff, stride, count, len, scale, out, oa, ob, oc);
        } else {
            ScalarFloatKernels.keyScores(q, qa, qb, true, kT, kOff, stride, count, len, scale, out, oa, ob);
            ScalarFloatKernels.keyScores(q, qc, qc, false, kT, kOff, stride, count, len, scale, out, oc, oc);
        }
    }

    /**
     * {@link #keyScores} over two KV blocks of {@code stride} positions at once (keys at kT[kA..] and kT[kB..], scores
     * to out[o..] and out[o + stride..]), bitwise what two calls give: a block of {@code countA} positions and one
     * of {@code countB} (both at least 1). Where a block is one vector of positions, both blocks' keys stream from
     * memory together, twice the loads in flight of one block (the blocks are separate pages, each read from cold).
     */
    public static void keyScoresPair(float[] q, int qa, int qb, boolean two, float[] kT, int kA, int kB, int stride,
                                     int countA, int countB, int len, float scale, float[] out, int oa, int ob) {
        if (SIMD && stride == SimdFloatKernels.LANES) {
            SimdFloatKernels.keyScoresPair(q, qa, qb, two, kT, kA, kB, stride, len, scale, out, oa, ob);
        } else {
            keyScores(q, qa, qb, two, kT, kA, stride, countA, len, scale, out, oa, ob);
            keyScores(q, qa, qb, two, kT, kB, stride, countB, len, scale, out, oa + stride, ob + stride);
        }
    }

    /** {@link #keyScoresPair} for three heads, as {@link #keyScores3} is {@link #keyScores} for three. */
    public static void keyScores3Pair(float[] q, int qa, int qb, int qc, float[] kT, int kA, int kB, int stride,
                                      int countA, int countB, int len, float scale, float[] out, int oa, int ob, int oc) {
        if (SIMD && stride == SimdFloatKernels.LANES) {
            SimdFloatKernels.keyScores3Pair(q, qa, qb, qc, kT, kA, kB, stride, len, scale, out, oa, ob, oc);
        } else {
            keyScores3(q, qa, qb, qc, kT, kA, stride, countA, len, scale, out, oa, ob, oc);
            keyScores3(q, qa, qb, qc, kT, kB, stride, countB, len, scale, out, oa + stride, ob + stride, oc + stride);
        }
    }

    /** Vector lanes of the kernels (1 without the Vector API): the padding {@link #keyScores} may write. */
    public static int lanes() {
        return SIMD ? SimdFloatKernels.LANES : 1;
    }

    /**
     * y[yOff .. yOff+len) += Σ_i a[aOff + i] · v[vOff + i·stride ..] for i &lt; count: bitwise the result of
     * count {@link #axpy} calls in i order (attention's weighted sum over one KV block), but faster.
     */
    public static void axpyRows(float[] a, int aOff, float[] v, int vOff, int stride, int count, float[] y, int yOff, int len) {
        if (SIMD) {
            SimdFloatKernels.axpyRows(a, aOff, v, vOff, stride, count, y, yOff, len);
        } else {
            ScalarFloatKernels.axpyRows(a, aOff, v, vOff, stride, count, y, yOff, len);
        }
    }

    /**
     * {@link #axpyRows} for three weightings of the same rows into three outputs (three heads over one block of
     * values): each row loaded once for all three, results bitwise those of three {@code axpyRows} calls.
     */
    public static void axpyRows3(float[] a, int aa, int ab, int ac, float[] v, int vOff, int stride, int count,
                                 float[] y, int ya, int yb, int yc, int len) {
        if (SIMD) {
            SimdFloatKernels.axpyRows3(a, aa, ab, ac, v, vOff, stride, count, y, ya, yb, yc, len);
        } else {
            ScalarFloatKernels.axpyRows(a, aa, v, vOff, stride, count, y, ya, len);
            ScalarFloatKernels.axpyRows(a, ab, v, vOff, stride, count, y, yb, len);
            ScalarFloatKernels.axpyRows(a, ac, v, vOff, stride, count, y, yc, len);
        }
    }

    /**
     * {@link #axpyRows3} over {@code countA} rows at v[vA..] then {@code countB} rows at v[vB..] (two KV blocks), the
     * weights of all of them consecutive from a[aa..]: bitwise two calls, block A's first.
     */
    public static void axpyRows3Pair(float[] a, int aa, int ab, int ac, float[] v, int vA, int countA, int vB,
                                     int countB, int stride, float[] y, int ya, int yb, int yc, int len) {
        if (SIMD) {
            SimdFloatKernels.axpyRows3Pair(a, aa, ab, ac, v, vA, countA, vB, countB, stride, y, ya, yb, yc, len);
        } else {
            axpyRows3(a, aa, ab, ac, v, vA, stride, countA, y, ya, yb, yc, len);
            axpyRows3(a, aa + countA, ab + countA, ac + countA, v, vB, stride, countB, y, ya, yb, yc, len);
        }
    }

    /** x *= s. */
    public static void scale(float[] x, int off, int n, float s) {
        if (SIMD) {
            SimdFloatKernels.scale(x, off, n, s);
        } else {
            ScalarFloatKernels.scale(x, off, n, s);
        }
    }

    /** IEEE half → float (exact). */
    public static float f16ToF32(short h) {
        return Float16.toFloat(h);
    }

    /** Float → IEEE half, round to nearest even (bit-exact with ggml). */
    public static short f32ToF16(float f) {
        return Float16.fromFloat(f);
    }

    /** dst[dstOff + i] = float(src[srcOff + i]) for i &lt; n: IEEE halves to floats (exact), vectorized. */
    public static void f16ToF32(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        if (SIMD) {
            SimdHalf.toFloat(src, srcOff, dst, dstOff, n);
        } else {
            for (int i = 0; i < n; i++) {
                dst[dstOff + i] = Float16.toFloat(src[srcOff + i]);
            }
        }
    }

    /** bfloat16 → float (exact). */
    public static float bf16ToF32(short h) {
        return Float16.bf16ToFloat(h);
    }
}
