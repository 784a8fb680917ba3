package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_0 weights. ggml block_q4_0 = {half d; uint8 qs[16]}: element j (j < 16) is the low nibble of qs[j]
 * and element j+16 its high nibble; value = d · (nibble − 8).
 * Repacked at load into {@code nibbles} (the qs of all blocks, [rows, cols/2]) and {@code scales}.
 */
final class Q4_0Matrix extends Matrix {

    private final byte[] nibbles; // [rows, cols / 2]
    private final float[] scales; // [rows, cols / 32]

    private Q4_0Matrix(byte[] nibbles, float[] scales, int rows, int cols, String name) {
        super(rows, cols, name);
        this.nibbles = nibbles;
        this.scales = scales;
    }

    static Q4_0Matrix load(ByteBuffer b, int rows, int cols, String name) {
        int blocks = rows * (cols / 32);
        byte[] qs = new byte[blocks * 16];
        float[] d = new float[blocks];
        for (int i = 0; i < blocks; i++) {
            int off = i * 18;
            d[i] = Float16.toFloat(b.getShort(off));
            b.get(off + 2, qs, i * 16, 16);
        }
        return new Q4_0Matrix(qs, d, rows, cols, name);
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int blocks = cols / 32;
        for (int b = 0; b < blocks; b++) {
            int block = row * blocks + b;
            float d = scales[block];
            int o = dstOffset + b * 32;
            for (int j = 0; j < 16; j++) {
                int q = nibbles[block * 16 + j] & 0xFF;
                dst[o + j] = d * ((q & 0xF) - 8);
                dst[o + j + 16] = d * ((q >> 4) - 8);
            }
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        Simd.decode(nibbles, scales, row, cols, dst, dstOffset);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        Simd.fourRows(nibbles, scales, r, stride, cols, x, out);
    }

    /**
     * Two to five tokens in passes of three or two ({@link Simd#fourRowsX3}, {@link Simd#fourRowsX2}), each
     * decoding every weight once in registers for the pass's tokens. Four and five tokens once took the default
     * (rows decoded into a buffer, then a 4 × 4 tile): a Llama-3.2-1B step of five tokens took 189-218 ms that
     * way, 149-167 ms in passes of 3 + 2; four tokens 155-162 against 138-169.
     */
    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        for (int t = 0; t < n; ) {
            int take = fewTokenPass(n - t, 3);
            if (take == 3) {
                Simd.fourRowsX3(nibbles, scales, r, stride, cols, x, t * cols, out, t * rows + r, rows);
            } else {
                Simd.fourRowsX2(nibbles, scales, r, stride, cols, x, t * cols, out, t * rows + r, rows);
            }
            t += take;
        }
    }

    /**
     * Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. Nibbles
     * are split after widening the bytes to int lanes: int AND/shift are single instructions, whereas byte
     * shifts have no AVX2 instruction and are emulated.
     */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
        static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

        static IntVector widen(byte[] qs, int off) {
            return (IntVector) ByteVector.fromArray(B, qs, off).convertShape(VectorOperators.B2I, I, 0);
        }

        static FloatVector low(IntVector v) {
            return (FloatVector) v.and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
        }

        static FloatVector high(IntVector v) {
            return (FloatVector) v.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
        }

        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token with decoding fused in: each weight is
         * {@link #decode}'s (q − 8)·d, met by x in column order (a block's 16 low nibbles, then its 16 high ones), so
         * each row's FMA chain is the one {@link SimdFloatKernels#tile4x1} runs over decoded rows. Written out like
         * {@link #fourRowsX2}, shifts constant: with the nibble split in a helper taking the shift as an argument
         * (the half-block loop this replaced) a Llama-3.2-1B step took 86-97 ms, written out 50-64 ms.
         */
        static void fourRows(byte[] qs, float[] d, int r, int stride, int cols, float[] x, float[] out) {
            int blocks = cols / 32;
            int b0 = r * blocks;
            int b1 = b0 + stride * blocks;
            int b2 = b1 + stride * blocks;
            int b3 = b2 + stride * blocks;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            // the nibbles' constants made once: written as and(0xF).sub(8) in the loop, C2 built them in every
            // iteration here (1024 x 2048, one thread: 92-104 against 75-78 us); the two- and three-token kernels keep
            // them inline (the same change was no faster at two tokens and 1.5x slower at three)
            IntVector low = IntVector.broadcast(I, 0xF);
            IntVector eight = IntVector.broadcast(I, 8);
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[b0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[b1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[b2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[b3 + b]);
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, b * 32 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                }
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, b * 32 + 16 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(low).sub(eight)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a00);
            out[r + stride] = SimdFloatKernels.laneSum(a10);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a30);
        }

        /**
         * {@link #fourRows} for 2 tokens (x[xOff + t·cols..], out[outOff + t·rows + k·stride]): each weight decoded
         * once feeds 2 FMA chains.
         * A block's low nibbles, then its high ones, each with a constant shift (a variable one, as the one-token kernel
         * once had, made C2 box the three-token kernel's vectors: ten times slower).
         */
        static void fourRowsX2(byte[] qs, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int blocks = cols / 32;
            int b0 = r * blocks;
            int b1 = b0 + stride * blocks;
            int b2 = b1 + stride * blocks;
            int b3 = b2 + stride * blocks;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[b0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[b1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[b2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[b3 + b]);
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + b * 32 + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + b * 32 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                }
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + b * 32 + 16 + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + b * 32 + 16 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                }
            }
            out[outOff] = SimdFloatKernels.laneSum(a00);
            out[outOff + rows] = SimdFloatKernels.laneSum(a01);
            out[outOff + stride] = SimdFloatKernels.laneSum(a10);
            out[outOff + rows + stride] = SimdFloatKernels.laneSum(a11);
            out[outOff + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[outOff + rows + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[outOff + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[outOff + rows + 3 * stride] = SimdFloatKernels.laneSum(a31);
        }

        /**
         * {@link #fourRows} for 3 tokens (x[xOff + t·cols..], out[outOff + t·rows + k·stride]): each weight decoded
         * once feeds 3 FMA chains.
         * A block's low nibbles, then its high ones, each with a constant shift (a variable one, as the one-token kernel
         * once had, made C2 box the three-token kernel's vectors: ten times slower).
         */
        static void fourRowsX3(byte[] qs, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out, int outOff,
                               int rows) {
            int blocks = cols / 32;
            int b0 = r * blocks;
            int b1 = b0 + stride * blocks;
            int b2 = b1 + stride * blocks;
            int b3 = b2 + stride * blocks;
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
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[b0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[b1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[b2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[b3 + b]);
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + b * 32 + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + b * 32 + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, xOff + 2 * cols + b * 32 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                    a32 = u3.fma(v2, a32);
                }
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + b * 32 + 16 + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + b * 32 + 16 + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, xOff + 2 * cols + b * 32 + 16 + j);
                    FloatVector u0 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b0 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b1 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b2 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ((IntVector) ByteVector.fromArray(B, qs, (b3 + b) * 16 + j)
                            .convertShape(VectorOperators.B2I, I, 0)).lanewise(VectorOperators.LSHR, 4).and(0xF).sub(8)
                            .convertShape(VectorOperators.I2F, F, 0)).mul(s3);
                    a30 = u3.fma(v0, a30);
                    a31 = u3.fma(v1, a31);
                    a32 = u3.fma(v2, a32);
                }
            }
            out[outOff] = SimdFloatKernels.laneSum(a00);
            out[outOff + rows] = SimdFloatKernels.laneSum(a01);
            out[outOff + 2 * rows] = SimdFloatKernels.laneSum(a02);
            out[outOff + stride] = SimdFloatKernels.laneSum(a10);
            out[outOff + rows + stride] = SimdFloatKernels.laneSum(a11);
            out[outOff + 2 * rows + stride] = SimdFloatKernels.laneSum(a12);
            out[outOff + 2 * stride] = SimdFloatKernels.laneSum(a20);
            out[outOff + rows + 2 * stride] = SimdFloatKernels.laneSum(a21);
            out[outOff + 2 * rows + 2 * stride] = SimdFloatKernels.laneSum(a22);
            out[outOff + 3 * stride] = SimdFloatKernels.laneSum(a30);
            out[outOff + rows + 3 * stride] = SimdFloatKernels.laneSum(a31);
            out[outOff + 2 * rows + 3 * stride] = SimdFloatKernels.laneSum(a32);
        }

        static void decode(byte[] qs, float[] d, int row, int cols, float[] dst, int dOff) {
            int blocks = cols / 32;
            for (int b = 0; b < blocks; b++) {
                int block = row * blocks + b;
                FloatVector s = FloatVector.broadcast(F, d[block]);
                int o = dOff + b * 32;
                for (int j = 0; j < 16; j += L) {
                    IntVector v = widen(qs, block * 16 + j);
                    low(v).mul(s).intoArray(dst, o + j);
                    high(v).mul(s).intoArray(dst, o + 16 + j);
                }
            }
        }
    }
}
