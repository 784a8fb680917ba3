package io.inferstream.runtime.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API float kernels: the element-wise ops of {@link VectorMath} and the register-tiled float
 * matrix kernel that every matrix type's batched matmul ends in. Only loaded when
 * {@link VectorApiSupport#ENABLED}.
 */
final class SimdFloatKernels {

    /**
     * The float species of every kernel: the machine's preferred one (256 bits on AVX2, 512 on AVX-512), or
     * {@code -Dinferstream.vector.bits=256|512} to force one (tests run the 512-bit code paths on AVX2
     * machines this way, where the JDK emulates them slowly but exactly).
     */
    static final VectorSpecies<Float> F = species();
    static final int LANES = F.length();

    private static VectorSpecies<Float> species() {
        String bits = System.getProperty("inferstream.vector.bits");
        if (bits == null || bits.isBlank()) {
            return FloatVector.SPECIES_PREFERRED;
        }
        return VectorSpecies.of(float.class, VectorShape.forBitSize(Integer.parseInt(bits.trim())));
    }

    private SimdFloatKernels() {
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (int bound = n - 2 * LANES; i <= bound; i += 2 * LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + LANES).fma(FloatVector.fromArray(F, b, bOff + i + LANES), acc1);
        }
        for (int bound = n - LANES; i <= bound; i += LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    static float sumOfSquares(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            acc = v.fma(v, acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += x[off + i] * x[off + i];
        }
        return sum;
    }

    /** out = weight ⊙ (x · s). */
    static void scaledProduct(float[] out, int outOff, float[] x, int xOff, float[] w, float s, int n) {
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector.fromArray(F, x, xOff + i).mul(s).mul(FloatVector.fromArray(F, w, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = w[i] * (s * x[xOff + i]);
        }
    }

    static float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (n >= LANES) {
            FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (int bound = n - LANES; i <= bound; i += LANES) {
                acc = acc.max(FloatVector.fromArray(F, x, off + i));
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    static void add(float[] dst, int dOff, float[] src, int sOff, int n) {
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector.fromArray(F, dst, dOff + i).add(FloatVector.fromArray(F, src, sOff + i)).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] += src[sOff + i];
        }
    }

    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector.fromArray(F, x, xOff + i).fma(av, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    static void scale(float[] x, int off, int n, float s) {
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector.fromArray(F, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }

    static void mul(float[] a, float[] b, int off, int n) {
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector.fromArray(F, a, off + i).mul(FloatVector.fromArray(F, b, off + i)).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= b[off + i];
        }
    }

    /**
     * Register tile of the batched matmul: two weight rows (at {@code w[wa..]} and {@code w[wb..]}, each
     * {@code cols} floats) times four tokens of x (rows {@code x[xOff..]}, stride {@code cols}), giving
     * out[(t)·rows + r] for r ∈ {ra, ra+1 when twoRows}, t ∈ tok..tok+3. Each weight vector loaded is used
     * for four tokens and each x vector for two rows: 8 FMAs per 6 loads keeps the FMA units busy.
     */
    static void tile2x4(float[] w, int wa, int wb, float[] x, int xOff, int cols,
                        float[] out, int outOff, int rows, boolean twoRows) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        int x0 = xOff;
        int x1 = xOff + cols;
        int x2 = xOff + 2 * cols;
        int x3 = xOff + 3 * cols;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector va = FloatVector.fromArray(F, w, wa + c);
            FloatVector vb = FloatVector.fromArray(F, w, wb + c);
            FloatVector v = FloatVector.fromArray(F, x, x0 + c);
            a0 = va.fma(v, a0);
            b0 = vb.fma(v, b0);
            v = FloatVector.fromArray(F, x, x1 + c);
            a1 = va.fma(v, a1);
            b1 = vb.fma(v, b1);
            v = FloatVector.fromArray(F, x, x2 + c);
            a2 = va.fma(v, a2);
            b2 = vb.fma(v, b2);
            v = FloatVector.fromArray(F, x, x3 + c);
            a3 = va.fma(v, a3);
            b3 = vb.fma(v, b3);
        }
        float sa0 = a0.reduceLanes(VectorOperators.ADD);
        float sa1 = a1.reduceLanes(VectorOperators.ADD);
        float sa2 = a2.reduceLanes(VectorOperators.ADD);
        float sa3 = a3.reduceLanes(VectorOperators.ADD);
        float sb0 = b0.reduceLanes(VectorOperators.ADD);
        float sb1 = b1.reduceLanes(VectorOperators.ADD);
        float sb2 = b2.reduceLanes(VectorOperators.ADD);
        float sb3 = b3.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float wva = w[wa + c];
            float wvb = w[wb + c];
            sa0 += wva * x[x0 + c];
            sa1 += wva * x[x1 + c];
            sa2 += wva * x[x2 + c];
            sa3 += wva * x[x3 + c];
            sb0 += wvb * x[x0 + c];
            sb1 += wvb * x[x1 + c];
            sb2 += wvb * x[x2 + c];
            sb3 += wvb * x[x3 + c];
        }
        out[outOff] = sa0;
        out[outOff + rows] = sa1;
        out[outOff + 2 * rows] = sa2;
        out[outOff + 3 * rows] = sa3;
        if (twoRows) {
            out[outOff + 1] = sb0;
            out[outOff + 1 + rows] = sb1;
            out[outOff + 1 + 2 * rows] = sb2;
            out[outOff + 1 + 3 * rows] = sb3;
        }
    }

    /** One weight row times one token with the tiles' arithmetic (one FMA chain, lane sum, scalar tail). */
    static float rowDot(float[] w, int wo, float[] x, int xOff, int cols) {
        FloatVector a = FloatVector.zero(F);
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            a = FloatVector.fromArray(F, w, wo + c).fma(FloatVector.fromArray(F, x, xOff + c), a);
        }
        float s = a.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            s += w[wo + c] * x[xOff + c];
        }
        return s;
    }

    /**
     * Four weight rows (at w[wo], w[wo+cols], ...) times one token: out[outOff .. outOff+3]. Four independent
     * FMA chains share each x load. Per (row, token) the arithmetic is the same as in {@link #tile2x4}: one
     * accumulator, columns in order, then the lane sum and the scalar tail, so results are bitwise equal.
     */
    static void tile4x1(float[] w, int wo, float[] x, int xOff, int cols, float[] out, int outOff) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int w1 = wo + cols;
        int w2 = wo + 2 * cols;
        int w3 = wo + 3 * cols;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + c);
            a0 = FloatVector.fromArray(F, w, wo + c).fma(v, a0);
            a1 = FloatVector.fromArray(F, w, w1 + c).fma(v, a1);
            a2 = FloatVector.fromArray(F, w, w2 + c).fma(v, a2);
            a3 = FloatVector.fromArray(F, w, w3 + c).fma(v, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        float s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float xv = x[xOff + c];
            s0 += w[wo + c] * xv;
            s1 += w[w1 + c] * xv;
            s2 += w[w2 + c] * xv;
            s3 += w[w3 + c] * xv;
        }
        out[outOff] = s0;
        out[outOff + 1] = s1;
        out[outOff + 2] = s2;
        out[outOff + 3] = s3;
    }

    /** Two weight rows times two tokens (a token remainder of {@link #tile2x4}). */
    static void tile2x2(float[] w, int wa, int wb, float[] x, int xOff, int cols,
                        float[] out, int outOff, int rows, boolean twoRows) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        int x1 = xOff + cols;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector va = FloatVector.fromArray(F, w, wa + c);
            FloatVector vb = FloatVector.fromArray(F, w, wb + c);
            FloatVector v = FloatVector.fromArray(F, x, xOff + c);
            a0 = va.fma(v, a0);
            b0 = vb.fma(v, b0);
            v = FloatVector.fromArray(F, x, x1 + c);
            a1 = va.fma(v, a1);
            b1 = vb.fma(v, b1);
        }
        float sa0 = a0.reduceLanes(VectorOperators.ADD);
        float sa1 = a1.reduceLanes(VectorOperators.ADD);
        float sb0 = b0.reduceLanes(VectorOperators.ADD);
        float sb1 = b1.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            sa0 += w[wa + c] * x[xOff + c];
            sa1 += w[wa + c] * x[x1 + c];
            sb0 += w[wb + c] * x[xOff + c];
            sb1 += w[wb + c] * x[x1 + c];
        }
        out[outOff] = sa0;
        out[outOff + rows] = sa1;
        if (twoRows) {
            out[outOff + 1] = sb0;
            out[outOff + 1 + rows] = sb1;
        }
    }

    /** Two weight rows times one token (the token remainder of {@link #tile2x4}). */
    static void tile2x1(float[] w, int wa, int wb, float[] x, int xOff, int cols,
                        float[] out, int outOff, boolean twoRows) {
        FloatVector a = FloatVector.zero(F);
        FloatVector b = FloatVector.zero(F);
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + c);
            a = FloatVector.fromArray(F, w, wa + c).fma(v, a);
            b = FloatVector.fromArray(F, w, wb + c).fma(v, b);
        }
        float sa = a.reduceLanes(VectorOperators.ADD);
        float sb = b.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            sa += w[wa + c] * x[xOff + c];
            sb += w[wb + c] * x[xOff + c];
        }
        out[outOff] = sa;
        if (twoRows) {
            out[outOff + 1] = sb;
        }
    }
}
