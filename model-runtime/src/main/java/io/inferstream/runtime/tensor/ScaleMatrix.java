package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.nio.ByteBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q6_K, Q3_K, IQ4_NL and IQ4_XS weights, all of the form value = scale · q per group of 16 or 32 weights with a small
 * signed integer q (ggml-quants.c, {@code dequantize_row_*}, QK_K = 256):
 * <pre>
 * block_q6_K   = { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }      // 16 groups of 16: q 6 bits − 32, scale d·scales[k]
 * block_q3_K   = { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }   // 16 groups of 16: q 3 bits − 4, scale d·(sc − 32)
 * block_iq4_nl = { half d; uint8 qs[16]; }                                      // 32 values: q = kvalues[nibble], scale d
 * block_iq4_xs = { half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; } // 8 groups of 32: q = kvalues[nibble], scale d·(ls − 32)
 * </pre>
 * Repacked at load into one signed byte per weight ({@code quants}, [rows, cols]) and a float scale per group: 10 bits
 * a weight for groups of 16 and 9 for groups of 32, instead of the file's 3.4 to 6.6. Every type then decodes with the
 * reference's one float operation, scale · q: groups of 16 (Q6_K, Q3_K) in this class's kernels, groups of 32 (IQ4_NL,
 * IQ4_XS) in Q8_0's, whose layout they then are.
 */
final class ScaleMatrix extends Matrix {

    /** ggml's {@code kvalues_iq4nl}: the 16 levels of the non-linear 4-bit types. */
    private static final byte[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private final GgmlType type;
    private final int group;      // weights per scale: 16 or 32
    private final byte[] quants;  // [rows, cols]
    private final float[] scales; // [rows, cols / group]

    private ScaleMatrix(GgmlType type, int group, byte[] quants, float[] scales, int rows, int cols, String name) {
        super(rows, cols, name);
        this.type = type;
        this.group = group;
        this.quants = quants;
        this.scales = scales;
    }

    static ScaleMatrix load(GgmlType type, ByteBuffer b, int rows, int cols, String name) {
        long values = (long) rows * cols;
        byte[] q = new byte[(int) values];
        int blocks = (int) (values / type.blockSize());
        return switch (type) {
            case Q6_K -> new ScaleMatrix(type, 16, q, q6K(b, blocks, q), rows, cols, name);
            case Q3_K -> new ScaleMatrix(type, 16, q, q3K(b, blocks, q), rows, cols, name);
            case IQ4_NL -> new ScaleMatrix(type, 32, q, iq4NL(b, blocks, q), rows, cols, name);
            case IQ4_XS -> new ScaleMatrix(type, 32, q, iq4XS(b, blocks, q), rows, cols, name);
            default -> throw new IllegalArgumentException("not a scale-only type: " + type);
        };
    }

    /** Value l + 32·i of each half of 128 takes 4 low bits from ql (i = 0, 1 low nibbles, 2, 3 high) and 2 from qh. */
    private static float[] q6K(ByteBuffer b, int blocks, byte[] q) {
        float[] s = new float[blocks * 16];
        byte[] block = new byte[210];
        for (int i = 0; i < blocks; i++) {
            b.get(i * 210, block, 0, 210);
            float d = Float16.toFloat((short) ((block[208] & 0xFF) | (block[209] << 8)));
            for (int k = 0; k < 16; k++) {
                s[i * 16 + k] = d * block[192 + k];
            }
            for (int half = 0; half < 2; half++) {
                int ql = half * 64;
                int qh = 128 + half * 32;
                int y = i * 256 + half * 128;
                for (int l = 0; l < 32; l++) {
                    int h = block[qh + l] & 0xFF;
                    int lo0 = block[ql + l] & 0xFF;
                    int lo1 = block[ql + l + 32] & 0xFF;
                    q[y + l] = (byte) (((lo0 & 0xF) | ((h & 3) << 4)) - 32);
                    q[y + l + 32] = (byte) (((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32);
                    q[y + l + 64] = (byte) (((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32);
                    q[y + l + 96] = (byte) (((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32);
                }
            }
        }
        return s;
    }

    /**
     * Value 32·j + l of half h (j &lt; 4, l &lt; 32) takes 2 bits from qs[32·h + l] at bit 2·j, minus 4 unless bit 4·h + j
     * of hmask[l] is set. The 16 six-bit scales: low nibbles from bytes 0..7 (k &lt; 8) or their high nibbles (k ≥ 8),
     * high 2 bits from byte 8 + k % 4 at bit 2·(k / 4).
     */
    private static float[] q3K(ByteBuffer b, int blocks, byte[] q) {
        float[] s = new float[blocks * 16];
        byte[] block = new byte[110];
        for (int i = 0; i < blocks; i++) {
            b.get(i * 110, block, 0, 110);
            float d = Float16.toFloat((short) ((block[108] & 0xFF) | (block[109] << 8)));
            for (int k = 0; k < 16; k++) {
                int low = ((block[96 + k % 8] & 0xFF) >> (k < 8 ? 0 : 4)) & 0xF;
                int high = ((block[104 + k % 4] & 0xFF) >> (2 * (k / 4))) & 3;
                s[i * 16 + k] = d * ((low | high << 4) - 32);
            }
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    for (int l = 0; l < 32; l++) {
                        int low = ((block[32 + 32 * h + l] & 0xFF) >> (2 * j)) & 3;
                        boolean set = ((block[l] & 0xFF) >> (4 * h + j) & 1) != 0;
                        q[i * 256 + 128 * h + 32 * j + l] = (byte) (low - (set ? 0 : 4));
                    }
                }
            }
        }
        return s;
    }

    /** Element j &lt; 16 is the level of qs[j]'s low nibble, element j + 16 of its high nibble. */
    private static float[] iq4NL(ByteBuffer b, int blocks, byte[] q) {
        float[] s = new float[blocks];
        for (int i = 0; i < blocks; i++) {
            s[i] = Float16.toFloat(b.getShort(i * 18));
            levels(b, i * 18 + 2, q, i * 32);
        }
        return s;
    }

    /** Group g's 6-bit scale: the nibble g % 2 of scales_l[g / 2], bits 2·g of scales_h above it; qs as IQ4_NL's, 16 bytes a group. */
    private static float[] iq4XS(ByteBuffer b, int blocks, byte[] q) {
        float[] s = new float[blocks * 8];
        for (int i = 0; i < blocks; i++) {
            int off = i * 136;
            float d = Float16.toFloat(b.getShort(off));
            int high = b.getShort(off + 2) & 0xFFFF;
            for (int g = 0; g < 8; g++) {
                int low = ((b.get(off + 4 + g / 2) & 0xFF) >> (4 * (g % 2))) & 0xF;
                s[i * 8 + g] = d * ((low | ((high >> (2 * g)) & 3) << 4) - 32);
                levels(b, off + 8 + 16 * g, q, i * 256 + 32 * g);
            }
        }
        return s;
    }

    private static void levels(ByteBuffer b, int from, byte[] q, int to) {
        for (int j = 0; j < 16; j++) {
            int v = b.get(from + j) & 0xFF;
            q[to + j] = IQ4_LEVELS[v & 0xF];
            q[to + j + 16] = IQ4_LEVELS[v >> 4];
        }
    }

    @Override
    public GgmlType type() {
        return type;
    }

    @Override
    public QuantPlanes planes() {
        return type == GgmlType.Q6_K ? new QuantPlanes(GgmlType.Q6_K, quants, scales, null, 16) : null;
    }

    @Override
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        int groups = cols / group;
        for (int g = 0; g < groups; g++) {
            float d = scales[row * groups + g];
            int q = row * cols + g * group;
            int o = dstOffset + g * group;
            for (int j = 0; j < group; j++) {
                dst[o + j] = d * quants[q + j];
            }
        }
    }

    @Override
    void dequantizeRowSimd(int row, float[] dst, int dstOffset) {
        if (group == 16) {
            Simd.decode16(quants, scales, row, cols, dst, dstOffset);
        } else {
            Q8_0Matrix.Simd.decode(quants, scales, row, cols, dst, dstOffset); // Q8_0's layout exactly
        }
    }

    /**
     * Up to eight tokens in fused passes, as Q8_0 (whose kernels IQ4_NL and IQ4_XS share): Q6_K at Llama-3.2-1B's
     * shapes, weights streaming from memory (MatmulBenchmark -DcopiesMiB=192, two threads,
     * benchmarks.md, forty-fourth session), 1.02-1.51× the packed tiles' speed at six and
     * eight tokens, 0.80-1.08× at ten.
     */
    @Override
    int packedMinTokens() {
        return fusedPassesUpTo(8);
    }

    @Override
    boolean readsFourRowsTogether() {
        return true; // decoding is fused into the four FMA chains
    }

    @Override
    void fourRowsSimd(int r, int stride, float[] x, float[] out) {
        if (group == 16) {
            Simd.fourRows16(quants, scales, r, stride, cols, x, out);
        } else {
            Q8_0Matrix.Simd.fourRows(quants, scales, r, stride, cols, x, out);
        }
    }

    @Override
    void fourRowsTokensSimd(int r, int stride, float[] x, int n, float[] out) {
        if (group == 16) {
            Simd.fourRowsTokens16(quants, scales, r, stride, cols, rows, x, n, out);
        } else {
            Q8_0Matrix.Simd.fourRowsTokens(quants, scales, r, stride, cols, rows, x, n, out);
        }
    }

    /** Vector API kernels, in their own class so it is loaded only when the Vector API is enabled. */
    private static final class Simd {
        static final VectorSpecies<Float> F = SimdFloatKernels.F;
        static final int L = F.length();
        static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

        static FloatVector load(byte[] q, int off) {
            return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0);
        }

        // Groups of 16 only: groups of 32 are Q8_0's layout and run its kernels. A constant inner bound, which C2 unrolls:
        // with the group as a variable bound the sums stayed boxed across the nested loops on AVX2, 8x slower
        // (MatmulBenchmark, Q6_K 3072x1024 one token)
        /**
         * Rows r, r + stride, r + 2·stride, r + 3·stride times one token, decoding fused in with {@link #decode16}'s
         * arithmetic (see Matrix).
         */
        static void fourRows16(byte[] q, float[] s, int r, int stride, int cols, float[] x, float[] out) {
            int groups = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int g0 = r * groups;
            int g1 = g0 + stride * groups;
            int g2 = g1 + stride * groups;
            int g3 = g2 + stride * groups;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int g = 0; g < groups; g++) {
                FloatVector s0 = FloatVector.broadcast(F, s[g0 + g]);
                FloatVector s1 = FloatVector.broadcast(F, s[g1 + g]);
                FloatVector s2 = FloatVector.broadcast(F, s[g2 + g]);
                FloatVector s3 = FloatVector.broadcast(F, s[g3 + g]);
                int o = g * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, o + j);
                    a0 = load(q, q0 + o + j).mul(s0).fma(v, a0);
                    a1 = load(q, q1 + o + j).mul(s1).fma(v, a1);
                    a2 = load(q, q2 + o + j).mul(s2).fma(v, a2);
                    a3 = load(q, q3 + o + j).mul(s3).fma(v, a3);
                }
            }
            out[r] = SimdFloatKernels.laneSum(a0);
            out[r + stride] = SimdFloatKernels.laneSum(a1);
            out[r + 2 * stride] = SimdFloatKernels.laneSum(a2);
            out[r + 3 * stride] = SimdFloatKernels.laneSum(a3);
        }

        /** {@link Matrix#fourRowsTokensSimd} for groups of 16, as Q8_0Matrix.Simd.fourRowsTokens does for 32. */
        static void fourRowsTokens16(byte[] q, float[] d, int r, int stride, int cols, int rows, float[] x, int n,
                                     float[] out) {
            for (int t = 0; t < n; ) {
                int take = Matrix.fewTokenPass(n - t, 3);
                int xOff = t * cols;
                int outOff = t * rows + r;
                switch (take) {
                    case 3 -> fourRows16_3(q, d, r, stride, cols, x, xOff, out, outOff, rows);
                    case 2 -> fourRows16_2(q, d, r, stride, cols, x, xOff, out, outOff, rows);
                    default -> throw new IllegalArgumentException("a pass of 2 or 3 tokens, got " + take);
                }
                t += take;
            }
        }

        /** {@link #fourRows16} for 2 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 2 FMA chains. */
        static void fourRows16_2(byte[] q, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out,
                               int outOff, int rows) {
            int blocks = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int d0 = r * blocks;
            int d1 = d0 + stride * blocks;
            int d2 = d1 + stride * blocks;
            int d3 = d2 + stride * blocks;
            FloatVector a00 = FloatVector.zero(F);
            FloatVector a01 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F);
            FloatVector a11 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F);
            FloatVector a21 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F);
            FloatVector a31 = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int o = b * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3);
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

        /** {@link #fourRows16} for 3 tokens at once (x[xOff + t·cols..]): each weight decoded once feeds 3 FMA chains. */
        static void fourRows16_3(byte[] q, float[] d, int r, int stride, int cols, float[] x, int xOff, float[] out,
                               int outOff, int rows) {
            int blocks = cols / 16;
            int q0 = r * cols;
            int q1 = q0 + stride * cols;
            int q2 = q1 + stride * cols;
            int q3 = q2 + stride * cols;
            int d0 = r * blocks;
            int d1 = d0 + stride * blocks;
            int d2 = d1 + stride * blocks;
            int d3 = d2 + stride * blocks;
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
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int o = b * 16;
                for (int j = 0; j < 16; j += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, xOff + o + j);
                    FloatVector v1 = FloatVector.fromArray(F, x, xOff + cols + o + j);
                    FloatVector v2 = FloatVector.fromArray(F, x, xOff + 2 * cols + o + j);
                    FloatVector u0 = ((FloatVector) ByteVector.fromArray(B, q, q0 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s0);
                    a00 = u0.fma(v0, a00);
                    a01 = u0.fma(v1, a01);
                    a02 = u0.fma(v2, a02);
                    FloatVector u1 = ((FloatVector) ByteVector.fromArray(B, q, q1 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s1);
                    a10 = u1.fma(v0, a10);
                    a11 = u1.fma(v1, a11);
                    a12 = u1.fma(v2, a12);
                    FloatVector u2 = ((FloatVector) ByteVector.fromArray(B, q, q2 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s2);
                    a20 = u2.fma(v0, a20);
                    a21 = u2.fma(v1, a21);
                    a22 = u2.fma(v2, a22);
                    FloatVector u3 = ((FloatVector) ByteVector.fromArray(B, q, q3 + o + j)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(s3);
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

        static void decode16(byte[] q, float[] s, int row, int cols, float[] dst, int dOff) {
            int groups = cols / 16;
            for (int g = 0; g < groups; g++) {
                FloatVector sv = FloatVector.broadcast(F, s[row * groups + g]);
                int qo = row * cols + g * 16;
                int o = dOff + g * 16;
                for (int j = 0; j < 16; j += L) {
                    load(q, qo + j).mul(sv).intoArray(dst, o + j);
                }
            }
        }
    }
}
