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
    /**
     * Rows of the batched kernel's register tile: 4 ({@link #tile4x6}, 24 accumulators) where the machine has
     * AVX-512's 32 vector registers, else 2 ({@link #tile2x6}, 12; 24 would spill on AVX2's 16), or
     * {@code -Dinferstream.tileRows=2|4} to force one. Both compute every element alike, so the choice moves no bit.
     */
    static final int TILE_ROWS = tileRows();
    /**
     * Whether {@code reduceLanes(ADD)} adds in lane order from 0f both compiled and interpreted. Java 17's C2 does, as
     * the Vector API's Java fallback does; later JDKs' C2 adds in a tree (the API leaves the order open), so there the
     * same call gave other bits once compiled, and a token's logits differed alone and in a batch (Java 25 failed the
     * batch-invariance tests).
     */
    static final boolean REDUCE_LANES_IN_ORDER = Runtime.version().feature() == 17;

    private static VectorSpecies<Float> species() {
        String bits = System.getProperty("inferstream.vector.bits");
        if (bits == null || bits.isBlank()) {
            return FloatVector.SPECIES_PREFERRED;
        }
        return VectorSpecies.of(float.class, VectorShape.forBitSize(Integer.parseInt(bits.trim())));
    }

    private static int tileRows() {
        String rows = System.getProperty("inferstream.tileRows");
        if (rows == null || rows.isBlank()) {
            return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 ? 4 : 2;
        }
        int r = Integer.parseInt(rows.trim());
        if (r != 2 && r != 4) {
            throw new IllegalArgumentException("-Dinferstream.tileRows must be 2 or 4, got " + rows);
        }
        return r;
    }

    /**
     * The sum of v's lanes added in lane order from 0f, ((0 + v0) + v1) + …: the one order of every lane sum in the
     * kernels, on every JDK, compiled or not, so a result does not depend on which path or which JIT tier computed it.
     * Kept under 35 bytes of bytecode so that Java 17's C2 inlines it at any call site: a vector handed to a method C2
     * left out of line is boxed (the single-token kernels' old ending, four accumulators to a 232-byte method, was
     * boxed on every iteration of their loop; see VectorArgumentsTest).
     */
    static float laneSum(FloatVector v) {
        return REDUCE_LANES_IN_ORDER ? v.reduceLanes(VectorOperators.ADD) : laneSumInOrder(v);
    }

    /**
     * {@link #laneSum} in plain code, each lane read by a constant index: C2 extracts a constant lane in place, but
     * calls out, boxing the vector, for a variable one (a loop over lane(l) made single-token decode 40 % slower on
     * Java 25). Java adds left to right, so each line is ((0 + v0) + v1) + ….
     */
    static float laneSumInOrder(FloatVector v) {
        if (LANES == 16) {
            return 0f + v.lane(0) + v.lane(1) + v.lane(2) + v.lane(3) + v.lane(4) + v.lane(5) + v.lane(6) + v.lane(7)
                    + v.lane(8) + v.lane(9) + v.lane(10) + v.lane(11) + v.lane(12) + v.lane(13) + v.lane(14) + v.lane(15);
        }
        if (LANES == 8) {
            return 0f + v.lane(0) + v.lane(1) + v.lane(2) + v.lane(3) + v.lane(4) + v.lane(5) + v.lane(6) + v.lane(7);
        }
        float s = 0f;
        for (int l = 0; l < LANES; l++) {
            s += v.lane(l);
        }
        return s;
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
        float sum = laneSum(acc0.add(acc1));
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * Attention scores of one or two query heads over one KV block whose keys are stored transposed
     * (position i, dimension d at kT[kOff + d·stride + i]): out[oa + i] = scale · q_a·k_i (and out[ob + i] for
     * q_b when {@code two}) for i &lt; count. Positions go LANES at a time across the vector lanes, so there is
     * no lane sum: each score is two FMA chains in d order (d &lt; len/2 and d ≥ len/2, four chains in flight
     * with two heads) added, exactly what {@link ScalarFloatKernels#keyScore} computes for a position past the
     * last full vector. Up to LANES − 1 entries of out past count may be written (garbage, within the block).
     */
    static void keyScores(float[] q, int qa, int qb, boolean two, float[] kT, int kOff, int stride, int count, int len,
                          float scale, float[] out, int oa, int ob) {
        int half = len / 2;
        int i = 0;
        for (; i < count && i + LANES <= stride; i += LANES) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            int k0 = kOff + i;
            int k1 = kOff + half * stride + i;
            for (int d = 0; d < half; d++, k0 += stride, k1 += stride) {
                FloatVector x0 = FloatVector.fromArray(F, kT, k0);
                FloatVector x1 = FloatVector.fromArray(F, kT, k1);
                a0 = x0.fma(FloatVector.broadcast(F, q[qa + d]), a0);
                a1 = x1.fma(FloatVector.broadcast(F, q[qa + half + d]), a1);
                b0 = x0.fma(FloatVector.broadcast(F, q[qb + d]), b0);
                b1 = x1.fma(FloatVector.broadcast(F, q[qb + half + d]), b1);
            }
            a0.add(a1).mul(scale).intoArray(out, oa + i);
            if (two) {
                b0.add(b1).mul(scale).intoArray(out, ob + i);
            }
        }
        for (; i < count; i++) {
            out[oa + i] = ScalarFloatKernels.keyScore(q, qa, kT, kOff + i, stride, len, scale);
            if (two) {
                out[ob + i] = ScalarFloatKernels.keyScore(q, qb, kT, kOff + i, stride, len, scale);
            }
        }
    }

    /**
     * {@link #keyScores} for three queries at once (the three query heads of a SmolLM2 KV group): each key vector
     * loaded once feeds three queries, and a whole 16-position block runs as two position vectors, twelve FMA
     * chains in flight. Every lane computes exactly what {@code keyScores} computes for it (two FMA chains over the
     * halves of d, added, scaled), so scores are bitwise the same whichever kernel ran.
     */
    static void keyScores3(float[] q, int qa, int qb, int qc, float[] kT, int kOff, int stride, int count, int len,
                           float scale, float[] out, int oa, int ob, int oc) {
        int half = len / 2;
        int i = 0;
        for (; i + LANES < count && i + 2 * LANES <= stride; i += 2 * LANES) {
            keyScores3Pair(q, qa, qb, qc, kT, kOff + i, kOff + i + LANES, stride, len, scale, out, oa + i, ob + i, oc + i);
        }
        for (; i < count && i + LANES <= stride; i += LANES) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector c0 = a0;
            FloatVector c1 = a0;
            int k0 = kOff + i;
            int k1 = kOff + half * stride + i;
            for (int d = 0; d < half; d++, k0 += stride, k1 += stride) {
                FloatVector x0 = FloatVector.fromArray(F, kT, k0);
                FloatVector x1 = FloatVector.fromArray(F, kT, k1);
                a0 = x0.fma(FloatVector.broadcast(F, q[qa + d]), a0);
                a1 = x1.fma(FloatVector.broadcast(F, q[qa + half + d]), a1);
                b0 = x0.fma(FloatVector.broadcast(F, q[qb + d]), b0);
                b1 = x1.fma(FloatVector.broadcast(F, q[qb + half + d]), b1);
                c0 = x0.fma(FloatVector.broadcast(F, q[qc + d]), c0);
                c1 = x1.fma(FloatVector.broadcast(F, q[qc + half + d]), c1);
            }
            a0.add(a1).mul(scale).intoArray(out, oa + i);
            b0.add(b1).mul(scale).intoArray(out, ob + i);
            c0.add(c1).mul(scale).intoArray(out, oc + i);
        }
        for (; i < count; i++) {
            out[oa + i] = ScalarFloatKernels.keyScore(q, qa, kT, kOff + i, stride, len, scale);
            out[ob + i] = ScalarFloatKernels.keyScore(q, qb, kT, kOff + i, stride, len, scale);
            out[oc + i] = ScalarFloatKernels.keyScore(q, qc, kT, kOff + i, stride, len, scale);
        }
    }

    /**
     * {@link #keyScores3} for two vectors of positions whose keys start at kT[kA..] and kT[kB..] (rows {@code stride}
     * apart): two blocks of a sequence, or two halves of one, twelve FMA chains in flight. The second vector's scores
     * go to out[o + LANES ..]. Every lane computes what {@code keyScores} computes for it.
     */
    static void keyScores3Pair(float[] q, int qa, int qb, int qc, float[] kT, int kA, int kB, int stride, int len,
                               float scale, float[] out, int oa, int ob, int oc) {
        int half = len / 2;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector c0 = a0;
        FloatVector c1 = a0;
        FloatVector e0 = a0; // second position vector: query a, low half
        FloatVector e1 = a0;
        FloatVector f0 = a0;
        FloatVector f1 = a0;
        FloatVector g0 = a0;
        FloatVector g1 = a0;
        int k0 = kA;
        int k1 = kA + half * stride;
        int m0 = kB;
        int m1 = kB + half * stride;
        for (int d = 0; d < half; d++, k0 += stride, k1 += stride, m0 += stride, m1 += stride) {
            FloatVector x = FloatVector.fromArray(F, kT, k0);
            FloatVector y = FloatVector.fromArray(F, kT, m0);
            FloatVector s = FloatVector.broadcast(F, q[qa + d]);
            a0 = x.fma(s, a0);
            e0 = y.fma(s, e0);
            s = FloatVector.broadcast(F, q[qb + d]);
            b0 = x.fma(s, b0);
            f0 = y.fma(s, f0);
            s = FloatVector.broadcast(F, q[qc + d]);
            c0 = x.fma(s, c0);
            g0 = y.fma(s, g0);
            x = FloatVector.fromArray(F, kT, k1);
            y = FloatVector.fromArray(F, kT, m1);
            s = FloatVector.broadcast(F, q[qa + half + d]);
            a1 = x.fma(s, a1);
            e1 = y.fma(s, e1);
            s = FloatVector.broadcast(F, q[qb + half + d]);
            b1 = x.fma(s, b1);
            f1 = y.fma(s, f1);
            s = FloatVector.broadcast(F, q[qc + half + d]);
            c1 = x.fma(s, c1);
            g1 = y.fma(s, g1);
        }
        a0.add(a1).mul(scale).intoArray(out, oa);
        b0.add(b1).mul(scale).intoArray(out, ob);
        c0.add(c1).mul(scale).intoArray(out, oc);
        e0.add(e1).mul(scale).intoArray(out, oa + LANES);
        f0.add(f1).mul(scale).intoArray(out, ob + LANES);
        g0.add(g1).mul(scale).intoArray(out, oc + LANES);
    }

    /**
     * {@link #keyScores} for two vectors of positions whose keys start at kT[kA..] and kT[kB..] (two blocks of a
     * sequence): eight FMA chains in flight, the second vector's scores at out[o + LANES ..].
     */
    static void keyScoresPair(float[] q, int qa, int qb, boolean two, float[] kT, int kA, int kB, int stride, int len,
                              float scale, float[] out, int oa, int ob) {
        int half = len / 2;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector e0 = a0; // second position vector: query a, low half
        FloatVector e1 = a0;
        FloatVector f0 = a0;
        FloatVector f1 = a0;
        int k0 = kA;
        int k1 = kA + half * stride;
        int m0 = kB;
        int m1 = kB + half * stride;
        for (int d = 0; d < half; d++, k0 += stride, k1 += stride, m0 += stride, m1 += stride) {
            FloatVector x = FloatVector.fromArray(F, kT, k0);
            FloatVector y = FloatVector.fromArray(F, kT, m0);
            FloatVector s = FloatVector.broadcast(F, q[qa + d]);
            a0 = x.fma(s, a0);
            e0 = y.fma(s, e0);
            s = FloatVector.broadcast(F, q[qb + d]);
            b0 = x.fma(s, b0);
            f0 = y.fma(s, f0);
            x = FloatVector.fromArray(F, kT, k1);
            y = FloatVector.fromArray(F, kT, m1);
            s = FloatVector.broadcast(F, q[qa + half + d]);
            a1 = x.fma(s, a1);
            e1 = y.fma(s, e1);
            s = FloatVector.broadcast(F, q[qb + half + d]);
            b1 = x.fma(s, b1);
            f1 = y.fma(s, f1);
        }
        a0.add(a1).mul(scale).intoArray(out, oa);
        e0.add(e1).mul(scale).intoArray(out, oa + LANES);
        if (two) {
            b0.add(b1).mul(scale).intoArray(out, ob);
            f0.add(f1).mul(scale).intoArray(out, ob + LANES);
        }
    }

    /**
     * {@link #axpyRows} for three weightings of the same rows (three query heads over one block of values): each
     * value vector loaded once feeds three outputs. Four vectors of each output at a time (twelve accumulators);
     * every element is updated in i order with {@code axpyRows}' operations, so bitwise the same results.
     */
    static void axpyRows3(float[] a, int aa, int ab, int ac, float[] v, int vOff, int stride, int count, float[] y,
                          int ya, int yb, int yc, int len) {
        axpyRows3Pair(a, aa, ab, ac, v, vOff, count, vOff, 0, stride, y, ya, yb, yc, len);
    }

    /**
     * {@link #axpyRows3} over {@code countA} rows at v[vA..] and then {@code countB} rows at v[vB..] (two KV blocks),
     * weighted by a[aa + i] for i &lt; countA + countB: every element is updated in i order, as two calls would, but
     * the outputs stay in registers between the blocks.
     */
    static void axpyRows3Pair(float[] a, int aa, int ab, int ac, float[] v, int vA, int countA, int vB, int countB,
                              int stride, float[] y, int ya, int yb, int yc, int len) {
        int c = 0;
        for (int bound = len - 4 * LANES; c <= bound; c += 4 * LANES) {
            FloatVector p0 = FloatVector.fromArray(F, y, ya + c);
            FloatVector p1 = FloatVector.fromArray(F, y, ya + c + LANES);
            FloatVector p2 = FloatVector.fromArray(F, y, ya + c + 2 * LANES);
            FloatVector p3 = FloatVector.fromArray(F, y, ya + c + 3 * LANES);
            FloatVector r0 = FloatVector.fromArray(F, y, yb + c);
            FloatVector r1 = FloatVector.fromArray(F, y, yb + c + LANES);
            FloatVector r2 = FloatVector.fromArray(F, y, yb + c + 2 * LANES);
            FloatVector r3 = FloatVector.fromArray(F, y, yb + c + 3 * LANES);
            FloatVector s0 = FloatVector.fromArray(F, y, yc + c);
            FloatVector s1 = FloatVector.fromArray(F, y, yc + c + LANES);
            FloatVector s2 = FloatVector.fromArray(F, y, yc + c + 2 * LANES);
            FloatVector s3 = FloatVector.fromArray(F, y, yc + c + 3 * LANES);
            for (int i = 0, n = countA + countB; i < n; i++) {
                FloatVector wa = FloatVector.broadcast(F, a[aa + i]);
                FloatVector wb = FloatVector.broadcast(F, a[ab + i]);
                FloatVector wc = FloatVector.broadcast(F, a[ac + i]);
                int o = (i < countA ? vA + i * stride : vB + (i - countA) * stride) + c;
                FloatVector x = FloatVector.fromArray(F, v, o);
                p0 = x.fma(wa, p0);
                r0 = x.fma(wb, r0);
                s0 = x.fma(wc, s0);
                x = FloatVector.fromArray(F, v, o + LANES);
                p1 = x.fma(wa, p1);
                r1 = x.fma(wb, r1);
                s1 = x.fma(wc, s1);
                x = FloatVector.fromArray(F, v, o + 2 * LANES);
                p2 = x.fma(wa, p2);
                r2 = x.fma(wb, r2);
                s2 = x.fma(wc, s2);
                x = FloatVector.fromArray(F, v, o + 3 * LANES);
                p3 = x.fma(wa, p3);
                r3 = x.fma(wb, r3);
                s3 = x.fma(wc, s3);
            }
            p0.intoArray(y, ya + c);
            p1.intoArray(y, ya + c + LANES);
            p2.intoArray(y, ya + c + 2 * LANES);
            p3.intoArray(y, ya + c + 3 * LANES);
            r0.intoArray(y, yb + c);
            r1.intoArray(y, yb + c + LANES);
            r2.intoArray(y, yb + c + 2 * LANES);
            r3.intoArray(y, yb + c + 3 * LANES);
            s0.intoArray(y, yc + c);
            s1.intoArray(y, yc + c + LANES);
            s2.intoArray(y, yc + c + 2 * LANES);
            s3.intoArray(y, yc + c + 3 * LANES);
        }
        if (c < len) { // the rest of the head: one output at a time, from column c on, block A's rows then B's
            axpyRows(a, aa, v, vA + c, stride, countA, y, ya + c, len - c);
            axpyRows(a, ab, v, vA + c, stride, countA, y, yb + c, len - c);
            axpyRows(a, ac, v, vA + c, stride, countA, y, yc + c, len - c);
            if (countB > 0) {
                axpyRows(a, aa + countA, v, vB + c, stride, countB, y, ya + c, len - c);
                axpyRows(a, ab + countA, v, vB + c, stride, countB, y, yb + c, len - c);
                axpyRows(a, ac + countA, v, vB + c, stride, countB, y, yc + c, len - c);
            }
        }
    }

    /**
     * y[yOff .. +len) += Σ_i a[aOff + i] · v[vOff + i·stride ..] for i &lt; count, each element updated in i
     * order with exactly {@link #axpy}'s operations (fma per vector lane, a·x + y in the scalar tail), so the
     * result is bitwise that of count axpy calls; but y stays in registers, four vectors at a time, across
     * all the rows instead of a load and a store per row (attention's weighted sum of values).
     */
    static void axpyRows(float[] a, int aOff, float[] v, int vOff, int stride, int count, float[] y, int yOff, int len) {
        int c = 0;
        for (int bound = len - 8 * LANES; c <= bound; c += 8 * LANES) {
            // eight independent chains: the FMA latency is hidden (a 64-float head is one pass)
            FloatVector y0 = FloatVector.fromArray(F, y, yOff + c);
            FloatVector y1 = FloatVector.fromArray(F, y, yOff + c + LANES);
            FloatVector y2 = FloatVector.fromArray(F, y, yOff + c + 2 * LANES);
            FloatVector y3 = FloatVector.fromArray(F, y, yOff + c + 3 * LANES);
            FloatVector y4 = FloatVector.fromArray(F, y, yOff + c + 4 * LANES);
            FloatVector y5 = FloatVector.fromArray(F, y, yOff + c + 5 * LANES);
            FloatVector y6 = FloatVector.fromArray(F, y, yOff + c + 6 * LANES);
            FloatVector y7 = FloatVector.fromArray(F, y, yOff + c + 7 * LANES);
            for (int i = 0; i < count; i++) {
                FloatVector av = FloatVector.broadcast(F, a[aOff + i]);
                int o = vOff + i * stride + c;
                y0 = FloatVector.fromArray(F, v, o).fma(av, y0);
                y1 = FloatVector.fromArray(F, v, o + LANES).fma(av, y1);
                y2 = FloatVector.fromArray(F, v, o + 2 * LANES).fma(av, y2);
                y3 = FloatVector.fromArray(F, v, o + 3 * LANES).fma(av, y3);
                y4 = FloatVector.fromArray(F, v, o + 4 * LANES).fma(av, y4);
                y5 = FloatVector.fromArray(F, v, o + 5 * LANES).fma(av, y5);
                y6 = FloatVector.fromArray(F, v, o + 6 * LANES).fma(av, y6);
                y7 = FloatVector.fromArray(F, v, o + 7 * LANES).fma(av, y7);
            }
            y0.intoArray(y, yOff + c);
            y1.intoArray(y, yOff + c + LANES);
            y2.intoArray(y, yOff + c + 2 * LANES);
            y3.intoArray(y, yOff + c + 3 * LANES);
            y4.intoArray(y, yOff + c + 4 * LANES);
            y5.intoArray(y, yOff + c + 5 * LANES);
            y6.intoArray(y, yOff + c + 6 * LANES);
            y7.intoArray(y, yOff + c + 7 * LANES);
        }
        for (int bound = len - 4 * LANES; c <= bound; c += 4 * LANES) {
            FloatVector y0 = FloatVector.fromArray(F, y, yOff + c);
            FloatVector y1 = FloatVector.fromArray(F, y, yOff + c + LANES);
            FloatVector y2 = FloatVector.fromArray(F, y, yOff + c + 2 * LANES);
            FloatVector y3 = FloatVector.fromArray(F, y, yOff + c + 3 * LANES);
            for (int i = 0; i < count; i++) {
                FloatVector av = FloatVector.broadcast(F, a[aOff + i]);
                int o = vOff + i * stride + c;
                y0 = FloatVector.fromArray(F, v, o).fma(av, y0);
                y1 = FloatVector.fromArray(F, v, o + LANES).fma(av, y1);
                y2 = FloatVector.fromArray(F, v, o + 2 * LANES).fma(av, y2);
                y3 = FloatVector.fromArray(F, v, o + 3 * LANES).fma(av, y3);
            }
            y0.intoArray(y, yOff + c);
            y1.intoArray(y, yOff + c + LANES);
            y2.intoArray(y, yOff + c + 2 * LANES);
            y3.intoArray(y, yOff + c + 3 * LANES);
        }
        for (int bound = len - LANES; c <= bound; c += LANES) {
            FloatVector y0 = FloatVector.fromArray(F, y, yOff + c);
            for (int i = 0; i < count; i++) {
                y0 = FloatVector.fromArray(F, v, vOff + i * stride + c).fma(FloatVector.broadcast(F, a[aOff + i]), y0);
            }
            y0.intoArray(y, yOff + c);
        }
        for (; c < len; c++) {
            float acc = y[yOff + c];
            for (int i = 0; i < count; i++) {
                acc += a[aOff + i] * v[vOff + i * stride + c];
            }
            y[yOff + c] = acc;
        }
    }

    static float sumOfSquares(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            acc = v.fma(v, acc);
        }
        float sum = laneSum(acc);
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
        float sa0 = laneSum(a0);
        float sa1 = laneSum(a1);
        float sa2 = laneSum(a2);
        float sa3 = laneSum(a3);
        float sb0 = laneSum(b0);
        float sb1 = laneSum(b1);
        float sb2 = laneSum(b2);
        float sb3 = laneSum(b3);
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
        float s = laneSum(a);
        for (; c < cols; c++) {
            s += w[wo + c] * x[xOff + c];
        }
        return s;
    }

    /**
     * Four weight rows (at w[wo], w[wo + rowStride], ...) times one token: out[outOff + k·outStride] for k &lt; 4.
     * Four independent FMA chains share each x load. Per (row, token) the arithmetic is the same as in
     * {@link #tile2x4}: one accumulator, columns in order, then the lane sum and the scalar tail, so results
     * are bitwise equal.
     */
    static void tile4x1(float[] w, int wo, int rowStride, float[] x, int xOff, int cols, float[] out, int outOff,
                        int outStride) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int w1 = wo + rowStride;
        int w2 = w1 + rowStride;
        int w3 = w2 + rowStride;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + c);
            a0 = FloatVector.fromArray(F, w, wo + c).fma(v, a0);
            a1 = FloatVector.fromArray(F, w, w1 + c).fma(v, a1);
            a2 = FloatVector.fromArray(F, w, w2 + c).fma(v, a2);
            a3 = FloatVector.fromArray(F, w, w3 + c).fma(v, a3);
        }
        float s0 = laneSum(a0);
        float s1 = laneSum(a1);
        float s2 = laneSum(a2);
        float s3 = laneSum(a3);
        for (; c < cols; c++) {
            float xv = x[xOff + c];
            s0 += w[wo + c] * xv;
            s1 += w[w1 + c] * xv;
            s2 += w[w2 + c] * xv;
            s3 += w[w3 + c] * xv;
        }
        out[outOff] = s0;
        out[outOff + outStride] = s1;
        out[outOff + 2 * outStride] = s2;
        out[outOff + 3 * outStride] = s3;
    }

    /**
     * Rows w[wo..], w[wo + rowStride..], w[wo + 2·rowStride..], w[wo + 3·rowStride..] times 4 row-major tokens
     * (x[xOff + t·cols..]) for AVX-512's 32 registers (16 accumulators): each (row, token) element is
     * {@link #tile4x1}'s arithmetic (one FMA chain in column order, lane sum, scalar tail). Writes
     * out[outOff + t·outRows + k·outStride].
     */
    static void tile4x4(float[] w, int wo, int rowStride, float[] x, int xOff, int cols, float[] out, int outOff,
                        int outStride, int outRows) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a22 = FloatVector.zero(F);
        FloatVector a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        FloatVector a32 = FloatVector.zero(F);
        FloatVector a33 = FloatVector.zero(F);
        int w1 = wo + rowStride;
        int w2 = w1 + rowStride;
        int w3 = w2 + rowStride;
        int x0 = xOff;
        int x1 = xOff + cols;
        int x2 = xOff + 2 * cols;
        int x3 = xOff + 3 * cols;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector u0 = FloatVector.fromArray(F, w, wo + c);
            FloatVector u1 = FloatVector.fromArray(F, w, w1 + c);
            FloatVector u2 = FloatVector.fromArray(F, w, w2 + c);
            FloatVector u3 = FloatVector.fromArray(F, w, w3 + c);
            FloatVector v = FloatVector.fromArray(F, x, x0 + c);
            a00 = u0.fma(v, a00);
            a10 = u1.fma(v, a10);
            a20 = u2.fma(v, a20);
            a30 = u3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + c);
            a01 = u0.fma(v, a01);
            a11 = u1.fma(v, a11);
            a21 = u2.fma(v, a21);
            a31 = u3.fma(v, a31);
            v = FloatVector.fromArray(F, x, x2 + c);
            a02 = u0.fma(v, a02);
            a12 = u1.fma(v, a12);
            a22 = u2.fma(v, a22);
            a32 = u3.fma(v, a32);
            v = FloatVector.fromArray(F, x, x3 + c);
            a03 = u0.fma(v, a03);
            a13 = u1.fma(v, a13);
            a23 = u2.fma(v, a23);
            a33 = u3.fma(v, a33);
        }
        float s00 = laneSum(a00);
        float s01 = laneSum(a01);
        float s02 = laneSum(a02);
        float s03 = laneSum(a03);
        float s10 = laneSum(a10);
        float s11 = laneSum(a11);
        float s12 = laneSum(a12);
        float s13 = laneSum(a13);
        float s20 = laneSum(a20);
        float s21 = laneSum(a21);
        float s22 = laneSum(a22);
        float s23 = laneSum(a23);
        float s30 = laneSum(a30);
        float s31 = laneSum(a31);
        float s32 = laneSum(a32);
        float s33 = laneSum(a33);
        for (; c < cols; c++) {
            float v0 = x[x0 + c];
            float v1 = x[x1 + c];
            float v2 = x[x2 + c];
            float v3 = x[x3 + c];
            float u0 = w[wo + c];
            s00 += u0 * v0;
            s01 += u0 * v1;
            s02 += u0 * v2;
            s03 += u0 * v3;
            float u1 = w[w1 + c];
            s10 += u1 * v0;
            s11 += u1 * v1;
            s12 += u1 * v2;
            s13 += u1 * v3;
            float u2 = w[w2 + c];
            s20 += u2 * v0;
            s21 += u2 * v1;
            s22 += u2 * v2;
            s23 += u2 * v3;
            float u3 = w[w3 + c];
            s30 += u3 * v0;
            s31 += u3 * v1;
            s32 += u3 * v2;
            s33 += u3 * v3;
        }
        out[outOff] = s00;
        out[outOff + outRows] = s01;
        out[outOff + 2 * outRows] = s02;
        out[outOff + 3 * outRows] = s03;
        out[outOff + outStride] = s10;
        out[outOff + outRows + outStride] = s11;
        out[outOff + 2 * outRows + outStride] = s12;
        out[outOff + 3 * outRows + outStride] = s13;
        out[outOff + 2 * outStride] = s20;
        out[outOff + outRows + 2 * outStride] = s21;
        out[outOff + 2 * outRows + 2 * outStride] = s22;
        out[outOff + 3 * outRows + 2 * outStride] = s23;
        out[outOff + 3 * outStride] = s30;
        out[outOff + outRows + 3 * outStride] = s31;
        out[outOff + 2 * outRows + 3 * outStride] = s32;
        out[outOff + 3 * outRows + 3 * outStride] = s33;
    }

    /**
     * Rows w[wo..], w[wo + rowStride..], w[wo + 2·rowStride..], w[wo + 3·rowStride..] times 2 row-major tokens
     * (x[xOff + t·cols..]) for AVX-512's 32 registers (8 accumulators): each (row, token) element is
     * {@link #tile4x1}'s arithmetic (one FMA chain in column order, lane sum, scalar tail). Writes
     * out[outOff + t·outRows + k·outStride].
     */
    static void tile4x2(float[] w, int wo, int rowStride, float[] x, int xOff, int cols, float[] out, int outOff,
                        int outStride, int outRows) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        int w1 = wo + rowStride;
        int w2 = w1 + rowStride;
        int w3 = w2 + rowStride;
        int x0 = xOff;
        int x1 = xOff + cols;
        int c = 0;
        for (int bound = cols - LANES; c <= bound; c += LANES) {
            FloatVector u0 = FloatVector.fromArray(F, w, wo + c);
            FloatVector u1 = FloatVector.fromArray(F, w, w1 + c);
            FloatVector u2 = FloatVector.fromArray(F, w, w2 + c);
            FloatVector u3 = FloatVector.fromArray(F, w, w3 + c);
            FloatVector v = FloatVector.fromArray(F, x, x0 + c);
            a00 = u0.fma(v, a00);
            a10 = u1.fma(v, a10);
            a20 = u2.fma(v, a20);
            a30 = u3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + c);
            a01 = u0.fma(v, a01);
            a11 = u1.fma(v, a11);
            a21 = u2.fma(v, a21);
            a31 = u3.fma(v, a31);
        }
        float s00 = laneSum(a00);
        float s01 = laneSum(a01);
        float s10 = laneSum(a10);
        float s11 = laneSum(a11);
        float s20 = laneSum(a20);
        float s21 = laneSum(a21);
        float s30 = laneSum(a30);
        float s31 = laneSum(a31);
        for (; c < cols; c++) {
            float v0 = x[x0 + c];
            float v1 = x[x1 + c];
            float u0 = w[wo + c];
            s00 += u0 * v0;
            s01 += u0 * v1;
            float u1 = w[w1 + c];
            s10 += u1 * v0;
            s11 += u1 * v1;
            float u2 = w[w2 + c];
            s20 += u2 * v0;
            s21 += u2 * v1;
            float u3 = w[w3 + c];
            s30 += u3 * v0;
            s31 += u3 * v1;
        }
        out[outOff] = s00;
        out[outOff + outRows] = s01;
        out[outOff + outStride] = s10;
        out[outOff + outRows + outStride] = s11;
        out[outOff + 2 * outStride] = s20;
        out[outOff + outRows + 2 * outStride] = s21;
        out[outOff + 3 * outStride] = s30;
        out[outOff + outRows + 3 * outStride] = s31;
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
        float sa0 = laneSum(a0);
        float sa1 = laneSum(a1);
        float sb0 = laneSum(b0);
        float sb1 = laneSum(b1);
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
        float sa = laneSum(a);
        float sb = laneSum(b);
        for (; c < cols; c++) {
            sa += w[wa + c] * x[xOff + c];
            sb += w[wb + c] * x[xOff + c];
        }
        out[outOff] = sa;
        if (twoRows) {
            out[outOff + 1] = sb;
        }
    }

    /** Tokens per tile of the packed batched kernel {@link #tile2x6}. */
    static final int PACKED_TOKENS = 6;

    /**
     * Packs x [n, cols] for {@link #tile2x6}: the tokens in tiles of six and, within a tile, for each group g
     * of LANES columns the six tokens' vectors back to back: xp[(tile·groups + g)·6·LANES + j·LANES + i] =
     * x[(6·tile + j)·cols + g·LANES + i], with zeros for the tokens past n of the last tile. (groups =
     * cols / LANES; the columns past groups·LANES stay in x for the scalar tail.)
     */
    static void packTokens(float[] x, int n, int cols, float[] xp) {
        int groups = cols / LANES;
        int tiles = (n + PACKED_TOKENS - 1) / PACKED_TOKENS;
        for (int tile = 0; tile < tiles; tile++) {
            int base = tile * groups * PACKED_TOKENS * LANES;
            for (int j = 0; j < PACKED_TOKENS; j++) {
                int t = tile * PACKED_TOKENS + j;
                int o = base + j * LANES;
                if (t >= n) {
                    for (int g = 0; g < groups; g++) {
                        FloatVector.zero(F).intoArray(xp, o + g * PACKED_TOKENS * LANES);
                    }
                    continue;
                }
                int xo = t * cols;
                for (int g = 0; g < groups; g++) {
                    FloatVector.fromArray(F, x, xo + g * LANES).intoArray(xp, o + g * PACKED_TOKENS * LANES);
                }
            }
        }
    }

    /**
     * The batched kernel: two weight rows (row-major at w[wa..] and w[wb..]) times one packed tile of six
     * tokens ({@link #packTokens} at xp[xo..]) over the first groups·LANES columns, twelve accumulators in
     * registers, stored to acc[0 .. 12·LANES) (row a's six tokens, then row b's) for {@link #finishTile}.
     * Every load is a constant offset from one of two running indices: measured on the AVX2 build machine
     * (one core, operands in L1) this runs at ~75-80 GFLOP/s, near the FMA units' peak, where the 2x4 tile
     * over six row-major arrays reaches ~40 (the JIT then keeps six base offsets in registers and loses
     * the FMA throughput). Kept small on purpose: C2 must inline all of it or the vectors get boxed.
     */
    static void tile2x6(float[] w, int wa, int wb, float[] xp, int xo, int groups, float[] acc) {
        FloatVector a0 = FloatVector.zero(F);
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
        int d = wb - wa;
        int end = wa + groups * LANES;
        for (int i = wa, xi = xo; i < end; i += LANES, xi += PACKED_TOKENS * LANES) {
            FloatVector u = FloatVector.fromArray(F, w, i);
            FloatVector s = FloatVector.fromArray(F, w, i + d);
            FloatVector v = FloatVector.fromArray(F, xp, xi);
            a0 = u.fma(v, a0);
            b0 = s.fma(v, b0);
            v = FloatVector.fromArray(F, xp, xi + LANES);
            a1 = u.fma(v, a1);
            b1 = s.fma(v, b1);
            v = FloatVector.fromArray(F, xp, xi + 2 * LANES);
            a2 = u.fma(v, a2);
            b2 = s.fma(v, b2);
            v = FloatVector.fromArray(F, xp, xi + 3 * LANES);
            a3 = u.fma(v, a3);
            b3 = s.fma(v, b3);
            v = FloatVector.fromArray(F, xp, xi + 4 * LANES);
            a4 = u.fma(v, a4);
            b4 = s.fma(v, b4);
            v = FloatVector.fromArray(F, xp, xi + 5 * LANES);
            a5 = u.fma(v, a5);
            b5 = s.fma(v, b5);
        }
        a0.intoArray(acc, 0);
        a1.intoArray(acc, LANES);
        a2.intoArray(acc, 2 * LANES);
        a3.intoArray(acc, 3 * LANES);
        a4.intoArray(acc, 4 * LANES);
        a5.intoArray(acc, 5 * LANES);
        b0.intoArray(acc, 6 * LANES);
        b1.intoArray(acc, 7 * LANES);
        b2.intoArray(acc, 8 * LANES);
        b3.intoArray(acc, 9 * LANES);
        b4.intoArray(acc, 10 * LANES);
        b5.intoArray(acc, 11 * LANES);
    }

    /**
     * {@link #tile2x6} for four rows d apart (w[wa..], w[wa + d..], w[wa + 2d..], w[wa + 3d..]): 24 accumulators,
     * for the 32 vector registers of AVX-512 (on AVX2's 16 they would spill). Each accumulator is the same FMA
     * chain as in tile2x6, so results are bitwise the same; only the loads per FMA drop, from 8/12 to 10/24.
     * Stored to acc[0 .. 24·LANES): row k's six tokens at acc[(6k + j)·LANES].
     */
    static void tile4x6(float[] w, int wa, int d, float[] xp, int xo, int groups, float[] acc) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        FloatVector b4 = FloatVector.zero(F);
        FloatVector b5 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        FloatVector c4 = FloatVector.zero(F);
        FloatVector c5 = FloatVector.zero(F);
        FloatVector e0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        FloatVector e4 = FloatVector.zero(F);
        FloatVector e5 = FloatVector.zero(F);
        int end = wa + groups * LANES;
        for (int i = wa, xi = xo; i < end; i += LANES, xi += PACKED_TOKENS * LANES) {
            FloatVector u = FloatVector.fromArray(F, w, i);
            FloatVector s = FloatVector.fromArray(F, w, i + d);
            FloatVector p = FloatVector.fromArray(F, w, i + 2 * d);
            FloatVector q = FloatVector.fromArray(F, w, i + 3 * d);
            FloatVector v0 = FloatVector.fromArray(F, xp, xi);
            a0 = u.fma(v0, a0);
            b0 = s.fma(v0, b0);
            c0 = p.fma(v0, c0);
            e0 = q.fma(v0, e0);
            FloatVector v1 = FloatVector.fromArray(F, xp, xi + LANES);
            a1 = u.fma(v1, a1);
            b1 = s.fma(v1, b1);
            c1 = p.fma(v1, c1);
            e1 = q.fma(v1, e1);
            FloatVector v2 = FloatVector.fromArray(F, xp, xi + 2 * LANES);
            a2 = u.fma(v2, a2);
            b2 = s.fma(v2, b2);
            c2 = p.fma(v2, c2);
            e2 = q.fma(v2, e2);
            FloatVector v3 = FloatVector.fromArray(F, xp, xi + 3 * LANES);
            a3 = u.fma(v3, a3);
            b3 = s.fma(v3, b3);
            c3 = p.fma(v3, c3);
            e3 = q.fma(v3, e3);
            FloatVector v4 = FloatVector.fromArray(F, xp, xi + 4 * LANES);
            a4 = u.fma(v4, a4);
            b4 = s.fma(v4, b4);
            c4 = p.fma(v4, c4);
            e4 = q.fma(v4, e4);
            FloatVector v5 = FloatVector.fromArray(F, xp, xi + 5 * LANES);
            a5 = u.fma(v5, a5);
            b5 = s.fma(v5, b5);
            c5 = p.fma(v5, c5);
            e5 = q.fma(v5, e5);
        }
        a0.intoArray(acc, 0 * LANES);
        a1.intoArray(acc, 1 * LANES);
        a2.intoArray(acc, 2 * LANES);
        a3.intoArray(acc, 3 * LANES);
        a4.intoArray(acc, 4 * LANES);
        a5.intoArray(acc, 5 * LANES);
        b0.intoArray(acc, 6 * LANES);
        b1.intoArray(acc, 7 * LANES);
        b2.intoArray(acc, 8 * LANES);
        b3.intoArray(acc, 9 * LANES);
        b4.intoArray(acc, 10 * LANES);
        b5.intoArray(acc, 11 * LANES);
        c0.intoArray(acc, 12 * LANES);
        c1.intoArray(acc, 13 * LANES);
        c2.intoArray(acc, 14 * LANES);
        c3.intoArray(acc, 15 * LANES);
        c4.intoArray(acc, 16 * LANES);
        c5.intoArray(acc, 17 * LANES);
        e0.intoArray(acc, 18 * LANES);
        e1.intoArray(acc, 19 * LANES);
        e2.intoArray(acc, 20 * LANES);
        e3.intoArray(acc, 21 * LANES);
        e4.intoArray(acc, 22 * LANES);
        e5.intoArray(acc, 23 * LANES);
    }

    /**
     * {@link #tile4x6} for a last tile of at most four real tokens: the first four of the packed tile's six slots,
     * 16 accumulators stored where tile4x6 stores them (row k's token j at acc[(6k + j)·LANES]). The same FMA
     * chains, so the same bits; it skips the padding slots that tile4x6 would multiply by zero (16 tokens are
     * 6 + 6 + 4: 18 slots' FMAs for 16 tokens).
     */
    static void tile4x4Packed(float[] w, int wa, int d, float[] xp, int xo, int groups, float[] acc) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        FloatVector e0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        int end = wa + groups * LANES;
        for (int i = wa, xi = xo; i < end; i += LANES, xi += PACKED_TOKENS * LANES) {
            FloatVector u = FloatVector.fromArray(F, w, i);
            FloatVector s = FloatVector.fromArray(F, w, i + d);
            FloatVector p = FloatVector.fromArray(F, w, i + 2 * d);
            FloatVector q = FloatVector.fromArray(F, w, i + 3 * d);
            FloatVector v0 = FloatVector.fromArray(F, xp, xi);
            a0 = u.fma(v0, a0);
            b0 = s.fma(v0, b0);
            c0 = p.fma(v0, c0);
            e0 = q.fma(v0, e0);
            FloatVector v1 = FloatVector.fromArray(F, xp, xi + LANES);
            a1 = u.fma(v1, a1);
            b1 = s.fma(v1, b1);
            c1 = p.fma(v1, c1);
            e1 = q.fma(v1, e1);
            FloatVector v2 = FloatVector.fromArray(F, xp, xi + 2 * LANES);
            a2 = u.fma(v2, a2);
            b2 = s.fma(v2, b2);
            c2 = p.fma(v2, c2);
            e2 = q.fma(v2, e2);
            FloatVector v3 = FloatVector.fromArray(F, xp, xi + 3 * LANES);
            a3 = u.fma(v3, a3);
            b3 = s.fma(v3, b3);
            c3 = p.fma(v3, c3);
            e3 = q.fma(v3, e3);
        }
        a0.intoArray(acc, 0 * LANES);
        a1.intoArray(acc, 1 * LANES);
        a2.intoArray(acc, 2 * LANES);
        a3.intoArray(acc, 3 * LANES);
        b0.intoArray(acc, 6 * LANES);
        b1.intoArray(acc, 7 * LANES);
        b2.intoArray(acc, 8 * LANES);
        b3.intoArray(acc, 9 * LANES);
        c0.intoArray(acc, 12 * LANES);
        c1.intoArray(acc, 13 * LANES);
        c2.intoArray(acc, 14 * LANES);
        c3.intoArray(acc, 15 * LANES);
        e0.intoArray(acc, 18 * LANES);
        e1.intoArray(acc, 19 * LANES);
        e2.intoArray(acc, 20 * LANES);
        e3.intoArray(acc, 21 * LANES);
    }

    /** {@link #tile4x4Packed} for a last tile of one or two real tokens: the packed tile's first two slots. */
    static void tile4x2Packed(float[] w, int wa, int d, float[] xp, int xo, int groups, float[] acc) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector e0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        int end = wa + groups * LANES;
        for (int i = wa, xi = xo; i < end; i += LANES, xi += PACKED_TOKENS * LANES) {
            FloatVector u = FloatVector.fromArray(F, w, i);
            FloatVector s = FloatVector.fromArray(F, w, i + d);
            FloatVector p = FloatVector.fromArray(F, w, i + 2 * d);
            FloatVector q = FloatVector.fromArray(F, w, i + 3 * d);
            FloatVector v0 = FloatVector.fromArray(F, xp, xi);
            a0 = u.fma(v0, a0);
            b0 = s.fma(v0, b0);
            c0 = p.fma(v0, c0);
            e0 = q.fma(v0, e0);
            FloatVector v1 = FloatVector.fromArray(F, xp, xi + LANES);
            a1 = u.fma(v1, a1);
            b1 = s.fma(v1, b1);
            c1 = p.fma(v1, c1);
            e1 = q.fma(v1, e1);
        }
        a0.intoArray(acc, 0 * LANES);
        a1.intoArray(acc, 1 * LANES);
        b0.intoArray(acc, 6 * LANES);
        b1.intoArray(acc, 7 * LANES);
        c0.intoArray(acc, 12 * LANES);
        c1.intoArray(acc, 13 * LANES);
        e0.intoArray(acc, 18 * LANES);
        e1.intoArray(acc, 19 * LANES);
    }

    /**
     * The results of a {@link #tile2x6} tile: per (row, token) the lane sum of its accumulator, then the
     * scalar tail over the columns past groups·LANES from the row-major w[wa..] / w[wb..] and x, i.e. the
     * arithmetic of {@link #rowDot} (one FMA chain over the columns in order, lane sum, tail), so results are
     * bitwise equal to every other path. Writes out[(t0 + j)·rows + ra (+1 when twoRows)] for the
     * {@code tokens} (≤ 6) real tokens of the tile; padding tokens are dropped.
     */
    static void finishTile(float[] acc, float[] w, int wa, int wb, float[] x, int cols, int c0,
                           int t0, int tokens, float[] out, int ra, int rows, boolean twoRows) {
        for (int j = 0; j < tokens; j++) {
            int xOff = (t0 + j) * cols;
            // laneSum's order, in plain code over the stored lanes: two chains side by side
            float sa = 0f;
            float sb = 0f;
            for (int l = 0; l < LANES; l++) {
                sa += acc[j * LANES + l];
                sb += acc[(PACKED_TOKENS + j) * LANES + l];
            }
            for (int c = c0; c < cols; c++) {
                sa += w[wa + c] * x[xOff + c];
            }
            int o = (t0 + j) * rows + ra;
            out[o] = sa;
            if (twoRows) {
                for (int c = c0; c < cols; c++) {
                    sb += w[wb + c] * x[xOff + c];
                }
                out[o + 1] = sb;
            }
        }
    }

    /**
     * The results of a {@link #tile4x6} tile, with {@link #finishTile}'s arithmetic: per (row, token) the lane
     * sum, then the scalar tail from the row-major rows w[wa + k·d..]. Writes out[(t0 + j)·rows + ra + k].
     */
    static void finishTile4(float[] acc, float[] w, int wa, int d, float[] x, int cols, int c0,
                            int t0, int tokens, float[] out, int ra, int rows) {
        int rowStride = PACKED_TOKENS * LANES;
        for (int j = 0; j < tokens; j++) {
            int o0 = j * LANES;
            // laneSum's order, in plain code over the stored lanes: four independent chains side by side (one
            // chain alone waits on each add; ~6 % of a prefill step against reduceLanes on Java 17)
            float s0 = 0f;
            float s1 = 0f;
            float s2 = 0f;
            float s3 = 0f;
            for (int l = 0; l < LANES; l++) {
                s0 += acc[o0 + l];
                s1 += acc[o0 + rowStride + l];
                s2 += acc[o0 + 2 * rowStride + l];
                s3 += acc[o0 + 3 * rowStride + l];
            }
            int xOff = (t0 + j) * cols;
            for (int c = c0; c < cols; c++) {
                float xc = x[xOff + c];
                s0 += w[wa + c] * xc;
                s1 += w[wa + d + c] * xc;
                s2 += w[wa + 2 * d + c] * xc;
                s3 += w[wa + 3 * d + c] * xc;
            }
            int o = (t0 + j) * rows + ra;
            out[o] = s0;
            out[o + 1] = s1;
            out[o + 2] = s2;
            out[o + 3] = s3;
        }
    }

    /**
     * Twelve independent vector FMA chains of {@code iterations} steps each ({@link FmaPeak}): a ← a·m + c
     * converges to c / (1 − m), so the values stay normal. Returns the sum of every lane of every chain.
     */
    static double fmaChains(int iterations) {
        FloatVector m = FloatVector.broadcast(F, 0.999f);
        FloatVector c = FloatVector.broadcast(F, 0.001f);
        FloatVector a0 = FloatVector.broadcast(F, 1f);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector a4 = a0;
        FloatVector a5 = a0;
        FloatVector a6 = a0;
        FloatVector a7 = a0;
        FloatVector a8 = a0;
        FloatVector a9 = a0;
        FloatVector a10 = a0;
        FloatVector a11 = a0;
        for (int i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
