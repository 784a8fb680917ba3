package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * IEEE half weights, kept as half bits in a heap short[]. Java 17's Vector API has no half→float
 * conversion instruction, so the vector kernels convert with integer ops: the sign-extended half shifted left
 * by 13 keeps its sign in bit 31 and its exponent and mantissa in bits 27..13, the bits between are cleared, and
 * the float that makes times 2^112 is the half's value, exactly, subnormals included. That is three operations a
 * vector; it is wrong only for infinities and NaNs (exponent 31), so a matrix that holds one (checked once, at
 * load) takes the scalar kernels instead, whose 65536-entry table is exact for every half. Patching those lanes
 * with a compare and a blend in every kernel instead made the one-token product 2.5 times slower (forty-second
 * session: 1024 × 2048, one thread, 88 against 219 µs).
 *
 * <p>One to five tokens convert each weight once in registers for all of them (four rows side by side, as BF16
 * does). Before, F16 took the default: four rows converted into a buffer, then the float tile. A Llama-3.2-1B
 * step's matrices took 234 ms for one token that way and 101-118 ms fused; two tokens 233-256 → 118-163 ms,
 * three 281-290 → 154-166 ms (two alternating rounds, 2 threads).
 */
final class F16Matrix extends Matrix {

    private static final float[] TABLE = new float[1 << 16];

    static {
        for (int i = 0; i < TABLE.length; i++) {
            TABLE[i] = Float16.toFloat((short) i);
        }
    }

    private final short[] data; // [rows, cols] half bits
    private final boolean finite; // no infinity or NaN among the weights: the vector kernels serve them

    private F16Matrix(short[] data, int rows, int cols, String name) {
        super(rows, cols, name);
        this.data = data;
        this.finite = allFinite(data);
    }

    static F16Matrix load(ByteBuffer b, int rows, int cols, String name) {
        short[] data = new short[rows * cols];
        b.asShortBuffer().get(data);
        return new F16Matrix(data, rows, cols, name);
    }

    /** Whether no half of {@code h} has the all-ones exponent of an infinity or NaN. */
    static boolean allFinite(short[] h) {
        int carry = 0; // bit 15 set once some (exponent bits + 0x400) carried out of them: exponent 31
        for (short s : h) {
            carry |= (s & 0x7C00) + 0x400;
        }
        return (carry & 0x8000) == 0;
    }

    /** The vector kernels convert finite halves only (see the class comment). */
    @Override
    boolean vectorKernels() {
        return finite;
    }

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int base = row * cols;
        for (int c = 0; c < cols; c++) {
            dst[dstOffset + c] = TABLE[data[base + c] & 0xFFFF];
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        if (finite) {
            Simd.decode(data, row * cols, cols, dst, dstOffset);
        } else {
            Simd.decodeAnyHalf(data, row * cols, cols, dst, dstOffset);
        }
    }

    /**
     * Up to eight tokens in fused passes (3 + 3 + 2): at the shapes of SmolLM2-135M and Llama-3.2-1B, with the
     * weights streaming from memory (MatmulBenchmark -DcopiesMiB=192, two threads,
     * benchmarks.md, forty-fourth session), 1.03-1.29× the packed tiles' speed at six and eight tokens;
     * at ten 1.00-1.13×, at twelve 0.78-0.93×.
     */
    @Override
    int packedMinTokens() {
        return fusedPassesUpTo(8);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // conversion is fused into the four rows' FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(data, r, stride, cols, x, 0, out, r);
    }

    /** Two to eight tokens in passes of three or two, each weight converted once per pass (BF16's passes take four). */
    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        for (int t = 0; t < n; ) {
            int take = fewTokenPass(n - t, 3);
            if (take == 3) {
                Simd.fourRows3(data, r, stride, cols, x, t * cols, out, t * rows + r, rows);
            } else {
                Simd.fourRows2(data, r, stride, cols, x, t * cols, out, t * rows + r, rows);
            }
            t += take;
        }
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
        static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

        /** Halves w[off..] as floats, exact for every half, infinities and NaNs included. */
        static FloatVector load(short[] w, int off) {
            IntVector h = (IntVector) ShortVector.fromArray(S, w, off).convertShape(VectorOperators.S2I, I, 0);
            IntVector magnitude = h.and(0x7FFF);
            IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
            IntVector bits = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
            bits = bits.blend(shifted.or(0x7F80_0000), magnitude.compare(VectorOperators.GE, 0x7C00));
            return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token (x[xOff..], out[outOff + k·stride]) with the
         * half → float conversion fused in, written out (no helper returning vectors): {@link SimdFloatKernels#tile4x1}'s
         * arithmetic over the rows {@link #decode} gives (one FMA chain per row in column order, lane sums, scalar
         * tail). The sign comes from the short's sign extension (bit 31 of the widened lane).
         */
        static void fourRows(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            int x0 = xOff;
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                IntVector h0 = (IntVector) ShortVector.fromArray(S, w, w0 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u0 = h0.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a00 = u0.fma(v0, a00);
                IntVector h1 = (IntVector) ShortVector.fromArray(S, w, w1 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u1 = h1.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a10 = u1.fma(v0, a10);
                IntVector h2 = (IntVector) ShortVector.fromArray(S, w, w2 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u2 = h2.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a20 = u2.fma(v0, a20);
                IntVector h3 = (IntVector) ShortVector.fromArray(S, w, w3 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u3 = h3.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a30 = u3.fma(v0, a30);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s30 = SimdFloatKernels.laneSum(a30);
            for (; c < cols; c++) {
                float u0 = TABLE[w[w0 + c] & 0xFFFF];
                float u1 = TABLE[w[w1 + c] & 0xFFFF];
                float u2 = TABLE[w[w2 + c] & 0xFFFF];
                float u3 = TABLE[w[w3 + c] & 0xFFFF];
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
            }
            out[outOff] = s00;
            out[outOff + stride] = s10;
            out[outOff + 2 * stride] = s20;
            out[outOff + 3 * stride] = s30;
        }

        /** {@link #fourRows} for 2 tokens at once (x[xOff + t·cols..], out[outOff + t·rows..]): each weight converted once. */
        static void fourRows2(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            int x0 = xOff;
            int x1 = xOff + cols;
            int c = 0;
            // the conversion's constants made once: written as and(int) and mul(float) in the loop, C2 built them in
            // every iteration here (1024 x 2048, one thread: 149-165 against 93-115 us; the other kernels keep them)
            IntVector mask = IntVector.broadcast(I, 0x8FFF_E000);
            FloatVector scale = FloatVector.broadcast(F, 0x1p112f);
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + c);
                IntVector h0 = (IntVector) ShortVector.fromArray(S, w, w0 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u0 = h0.lanewise(VectorOperators.LSHL, 13).and(mask).reinterpretAsFloats().mul(scale);
                a00 = u0.fma(v0, a00);
                a01 = u0.fma(v1, a01);
                IntVector h1 = (IntVector) ShortVector.fromArray(S, w, w1 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u1 = h1.lanewise(VectorOperators.LSHL, 13).and(mask).reinterpretAsFloats().mul(scale);
                a10 = u1.fma(v0, a10);
                a11 = u1.fma(v1, a11);
                IntVector h2 = (IntVector) ShortVector.fromArray(S, w, w2 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u2 = h2.lanewise(VectorOperators.LSHL, 13).and(mask).reinterpretAsFloats().mul(scale);
                a20 = u2.fma(v0, a20);
                a21 = u2.fma(v1, a21);
                IntVector h3 = (IntVector) ShortVector.fromArray(S, w, w3 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u3 = h3.lanewise(VectorOperators.LSHL, 13).and(mask).reinterpretAsFloats().mul(scale);
                a30 = u3.fma(v0, a30);
                a31 = u3.fma(v1, a31);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s01 = SimdFloatKernels.laneSum(a01);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s11 = SimdFloatKernels.laneSum(a11);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s21 = SimdFloatKernels.laneSum(a21);
            float s30 = SimdFloatKernels.laneSum(a30);
            float s31 = SimdFloatKernels.laneSum(a31);
            for (; c < cols; c++) {
                float u0 = TABLE[w[w0 + c] & 0xFFFF];
                float u1 = TABLE[w[w1 + c] & 0xFFFF];
                float u2 = TABLE[w[w2 + c] & 0xFFFF];
                float u3 = TABLE[w[w3 + c] & 0xFFFF];
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
                float v1 = x[x1 + c];
                s01 += u0 * v1;
                s11 += u1 * v1;
                s21 += u2 * v1;
                s31 += u3 * v1;
            }
            out[outOff] = s00;
            out[outOff + rows] = s01;
            out[outOff + stride] = s10;
            out[outOff + rows + stride] = s11;
            out[outOff + 2 * stride] = s20;
            out[outOff + rows + 2 * stride] = s21;
            out[outOff + 3 * stride] = s30;
            out[outOff + rows + 3 * stride] = s31;
        }

        /** {@link #fourRows} for 3 tokens at once (x[xOff + t·cols..], out[outOff + t·rows..]): each weight converted once. */
        static void fourRows3(short[] w, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int w0 = r * cols;
            int w1 = w0 + stride * cols;
            int w2 = w1 + stride * cols;
            int w3 = w2 + stride * cols;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a02 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a12 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a22 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            FloatVector a32 = FloatVector.zero(F);
            int x0 = xOff;
            int x1 = xOff + cols;
            int x2 = xOff + 2 * cols;
            int c = 0;
            for (int bound = cols - L; c <= bound; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + c);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + c);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + c);
                IntVector h0 = (IntVector) ShortVector.fromArray(S, w, w0 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u0 = h0.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a00 = u0.fma(v0, a00);
                a01 = u0.fma(v1, a01);
                a02 = u0.fma(v2, a02);
                IntVector h1 = (IntVector) ShortVector.fromArray(S, w, w1 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u1 = h1.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a10 = u1.fma(v0, a10);
                a11 = u1.fma(v1, a11);
                a12 = u1.fma(v2, a12);
                IntVector h2 = (IntVector) ShortVector.fromArray(S, w, w2 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u2 = h2.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a20 = u2.fma(v0, a20);
                a21 = u2.fma(v1, a21);
                a22 = u2.fma(v2, a22);
                IntVector h3 = (IntVector) ShortVector.fromArray(S, w, w3 + c).convertShape(VectorOperators.S2I, I, 0);
                FloatVector u3 = h3.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f);
                a30 = u3.fma(v0, a30);
                a31 = u3.fma(v1, a31);
                a32 = u3.fma(v2, a32);
            }
            float s00 = SimdFloatKernels.laneSum(a00);
            float s01 = SimdFloatKernels.laneSum(a01);
            float s02 = SimdFloatKernels.laneSum(a02);
            float s10 = SimdFloatKernels.laneSum(a10);
            float s11 = SimdFloatKernels.laneSum(a11);
            float s12 = SimdFloatKernels.laneSum(a12);
            float s20 = SimdFloatKernels.laneSum(a20);
            float s21 = SimdFloatKernels.laneSum(a21);
            float s22 = SimdFloatKernels.laneSum(a22);
            float s30 = SimdFloatKernels.laneSum(a30);
            float s31 = SimdFloatKernels.laneSum(a31);
            float s32 = SimdFloatKernels.laneSum(a32);
            for (; c < cols; c++) {
                float u0 = TABLE[w[w0 + c] & 0xFFFF];
                float u1 = TABLE[w[w1 + c] & 0xFFFF];
                float u2 = TABLE[w[w2 + c] & 0xFFFF];
                float u3 = TABLE[w[w3 + c] & 0xFFFF];
                float v0 = x[x0 + c];
                s00 += u0 * v0;
                s10 += u1 * v0;
                s20 += u2 * v0;
                s30 += u3 * v0;
                float v1 = x[x1 + c];
                s01 += u0 * v1;
                s11 += u1 * v1;
                s21 += u2 * v1;
                s31 += u3 * v1;
                float v2 = x[x2 + c];
                s02 += u0 * v2;
                s12 += u1 * v2;
                s22 += u2 * v2;
                s32 += u3 * v2;
            }
            out[outOff] = s00;
            out[outOff + rows] = s01;
            out[outOff + 2 * rows] = s02;
            out[outOff + stride] = s10;
            out[outOff + rows + stride] = s11;
            out[outOff + 2 * rows + stride] = s12;
            out[outOff + 2 * stride] = s20;
            out[outOff + rows + 2 * stride] = s21;
            out[outOff + 2 * rows + 2 * stride] = s22;
            out[outOff + 3 * stride] = s30;
            out[outOff + rows + 3 * stride] = s31;
            out[outOff + 2 * rows + 3 * stride] = s32;
        }

        /** dst[dOff + i] = float(w[wOff + i]) for i &lt; n, all of them finite halves. */
        static void decode(short[] w, int wOff, int n, float[] dst, int dOff) {
            int c = 0;
            for (int bound = n - L; c <= bound; c += L) {
                IntVector h = (IntVector) ShortVector.fromArray(S, w, wOff + c).convertShape(VectorOperators.S2I, I, 0);
                h.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).reinterpretAsFloats().mul(0x1p112f)
                        .intoArray(dst, dOff + c);
            }
            for (; c < n; c++) {
                dst[dOff + c] = TABLE[w[wOff + c] & 0xFFFF];
            }
        }

        /** {@link #decode} for any halves, infinities and NaNs included. */
        static void decodeAnyHalf(short[] w, int wOff, int n, float[] dst, int dOff) {
            int c = 0;
            for (int bound = n - L; c <= bound; c += L) {
                load(w, wOff + c).intoArray(dst, dOff + c);
            }
            for (; c < n; c++) {
                dst[dOff + c] = TABLE[w[wOff + c] & 0xFFFF];
            }
        }
    }
}
