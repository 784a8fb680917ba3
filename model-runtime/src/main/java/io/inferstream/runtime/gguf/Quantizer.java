package io.inferstream.runtime.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes float weights into ggml block formats, following llama.cpp's reference quantizers
 * ({@code quantize_row_*_ref} in ggml-quants.c). Q8_0 and Q4_0 are bit-exact with the reference; for
 * Q4_K and Q6_K the per-sub-block scale search is simplified (min/max instead of the iterative
 * {@code make_qkx2_quants} / {@code make_qx_quants}), which yields valid blocks with a slightly larger
 * error; Q2_K, Q3_K, IQ4_NL and IQ4_XS likewise ({@link LowBitQuantizer}). The block layouts, which the
 * runtime's dequantization must match exactly, are documented at the top of each method.
 */
public final class Quantizer {

    private Quantizer() {
    }

    /** Encodes {@code x} (whole blocks of {@code type.blockSize()}) as {@code type}'s bytes. */
    public static byte[] quantize(GgmlType type, float[] x) {
        byte[] out = new byte[Math.toIntExact(type.bytesFor(x.length))];
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        int blocks = x.length / type.blockSize();
        switch (type) {
            case F32 -> b.asFloatBuffer().put(x);
            case F16 -> {
                for (float v : x) {
                    b.putShort(Float16.fromFloat(v));
                }
            }
            case BF16 -> {
                for (float v : x) {
                    b.putShort(Float16.floatToBf16(v));
                }
            }
            case Q8_0 -> {
                for (int i = 0; i < blocks; i++) {
                    q8_0(x, i * 32, b);
                }
            }
            case Q4_0 -> {
                for (int i = 0; i < blocks; i++) {
                    q4_0(x, i * 32, b);
                }
            }
            case Q4_1, Q5_0, Q5_1 -> {
                for (int i = 0; i < blocks; i++) {
                    fiveOrFourBits(type, x, i * 32, b);
                }
            }
            case Q4_K -> {
                for (int i = 0; i < blocks; i++) {
                    q4_K(x, i * 256, b);
                }
            }
            case Q5_K -> {
                for (int i = 0; i < blocks; i++) {
                    q5_K(x, i * 256, b);
                }
            }
            case Q6_K -> {
                for (int i = 0; i < blocks; i++) {
                    q6_K(x, i * 256, b);
                }
            }
            case Q2_K, Q3_K, IQ4_XS -> {
                for (int i = 0; i < blocks; i++) {
                    switch (type) {
                        case Q2_K -> LowBitQuantizer.q2K(x, i * 256, b);
                        case Q3_K -> LowBitQuantizer.q3K(x, i * 256, b);
                        default -> LowBitQuantizer.iq4XS(x, i * 256, b);
                    }
                }
            }
            case IQ4_NL -> {
                for (int i = 0; i < blocks; i++) {
                    LowBitQuantizer.iq4NL(x, i * 32, b);
                }
            }
            default -> throw new IllegalArgumentException("no quantizer for " + type + "; supported: "
                    + "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS");
        }
        return out;
    }

    /** C {@code roundf}: halves away from zero. */
    private static int roundf(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -r : r);
    }

    /** ggml {@code nearest_int}: round to nearest, ties to even. */
    private static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    /** block_q8_0 = {half d; int8 qs[32]}: x = d·q. */
    private static void q8_0(float[] x, int off, ByteBuffer b) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[off + j]));
        }
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b.putShort(Float16.fromFloat(d));
        for (int j = 0; j < 32; j++) {
            b.put((byte) roundf(x[off + j] * id));
        }
    }

    /** The first of the 32 values at {@code off} whose magnitude is the largest, with its sign (Q4_0's and Q5_0's d). */
    private static float largestMagnitude(float[] x, int off) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    /** block_q4_0 = {half d; uint8 qs[16]}: element j is low nibble of qs[j], j+16 the high; x = d·(q − 8). */
    private static void q4_0(float[] x, int off, ByteBuffer b) {
        float d = largestMagnitude(x, off) / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b.putShort(Float16.fromFloat(d));
        for (int j = 0; j < 16; j++) {
            int x0 = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int x1 = Math.min(15, (int) (x[off + 16 + j] * id + 8.5f));
            b.put((byte) (x0 | (x1 << 4)));
        }
    }

    /**
     * block_q4_1 = {half d; half m; uint8 qs[16]}, block_q5_0 = {half d; uint8 qh[4]; uint8 qs[16]}, block_q5_1 = {half d;
     * half m; uint8 qh[4]; uint8 qs[16]} (quantize_row_q4_1_ref, _q5_0_ref, _q5_1_ref): Q5_0 scales by the value of
     * largest magnitude, x = d·(q − 16); the others span [min, max], x = d·q + m. Element j &lt; 16 is the low nibble of
     * qs[j], j + 16 its high nibble; bit j of qh is the fifth bit of element j.
     */
    private static void fiveOrFourBits(GgmlType type, float[] x, int off, ByteBuffer b) {
        int[] q = new int[32];
        if (type == GgmlType.Q5_0) {
            float d = largestMagnitude(x, off) / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            for (int j = 0; j < 32; j++) {
                q[j] = Math.min(31, (int) (x[off + j] * id + 16.5f));
            }
            b.putShort(Float16.fromFloat(d));
        } else {
            int levels = type == GgmlType.Q4_1 ? 15 : 31;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                min = Math.min(min, x[off + j]);
                max = Math.max(max, x[off + j]);
            }
            float d = (max - min) / levels;
            float id = d != 0 ? 1.0f / d : 0.0f;
            for (int j = 0; j < 32; j++) {
                q[j] = Math.min(levels, (int) ((x[off + j] - min) * id + 0.5f));
            }
            b.putShort(Float16.fromFloat(d));
            b.putShort(Float16.fromFloat(min));
        }
        if (type != GgmlType.Q4_1) {
            int qh = 0;
            for (int j = 0; j < 32; j++) {
                qh |= ((q[j] >> 4) & 1) << j;
            }
            b.putInt(qh);
        }
        for (int j = 0; j < 16; j++) {
            b.put((byte) ((q[j] & 0xF) | (q[j + 16] & 0xF) << 4));
        }
    }

    /**
     * block_q5_K = {half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]}: Q4_K's groups, scales and mins
     * with 5-bit q, whose fifth bit for value i of group j is bit j of qh[i]; qs holds groups 2k and 2k + 1 in the low and
     * high nibbles of 32 bytes. The scales come from each group's min and max, as {@link #q4_K}'s do.
     */
    private static void q5_K(float[] x, int off, ByteBuffer b) {
        ByteBuffer four = ByteBuffer.allocate(144).order(ByteOrder.LITTLE_ENDIAN);
        int[] levels = kLevels(x, off, 31, four);
        b.put(four.array(), 0, 16); // d, dmin, scales: as Q4_K lays them out
        for (int i = 0; i < 32; i++) {
            int qh = 0;
            for (int j = 0; j < 8; j++) {
                qh |= ((levels[32 * j + i] >> 4) & 1) << j;
            }
            b.put((byte) qh);
        }
        for (int j = 0; j < 256; j += 64) {
            for (int l = 0; l < 32; l++) {
                b.put((byte) ((levels[j + l] & 0xF) | (levels[j + l + 32] & 0xF) << 4));
            }
        }
    }

    /**
     * block_q4_K = {half d; half dmin; uint8 scales[12]; uint8 qs[128]} over 256 values in 8 sub-blocks of
     * 32; sub-block j has a 6-bit scale sc and min m (packed by get_scale_min_k4) and
     * x = d·sc·q − dmin·m with 4-bit q. qs holds 4 chunks of 64 values: 32 bytes whose low nibbles are
     * values 0..31 and high nibbles values 32..63 of the chunk.
     */
    private static void q4_K(float[] x, int off, ByteBuffer b) {
        int[] levels = kLevels(x, off, 15, b);
        for (int j = 0; j < 256; j += 64) {
            for (int l = 0; l < 32; l++) {
                b.put((byte) (levels[j + l] | (levels[j + l + 32] << 4)));
            }
        }
    }

    /**
     * The 8 groups' 6-bit scales and mins of a 256-value super-block (each group's min and max mapped onto
     * {@code maxLevel} + 1 levels), written to {@code b} as d, dmin and the 12 packed bytes; returns each value's level.
     */
    private static int[] kLevels(float[] x, int off, int maxLevel, ByteBuffer b) {
        float[] scales = new float[8];
        float[] mins = new float[8];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float lo = 0;
            float hi = 0;
            for (int i = 0; i < 32; i++) {
                float v = x[off + 32 * j + i];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            scales[j] = (hi - lo) / maxLevel;
            mins[j] = -lo;
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63 / maxScale : 0;
        float invMin = maxMin > 0 ? 63 / maxMin : 0;
        byte[] packed = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]));
            int lm = Math.min(63, nearestInt(invMin * mins[j]));
            if (j < 4) {
                packed[j] = (byte) ls;
                packed[j + 4] = (byte) lm;
            } else {
                packed[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte) ((ls >> 4) << 6);
                packed[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dHalf = Float16.fromFloat(maxScale / 63);
        short dminHalf = Float16.fromFloat(maxMin / 63);
        float d = Float16.toFloat(dHalf);
        float dmin = Float16.toFloat(dminHalf);
        int[] levels = new int[256];
        for (int j = 0; j < 8; j++) {
            int sc = scaleK4(packed, j);
            int m = minK4(packed, j);
            float ds = d * sc;
            if (ds == 0) {
                continue;
            }
            float dm = dmin * m;
            for (int i = 0; i < 32; i++) {
                levels[32 * j + i] = Math.max(0, Math.min(maxLevel, nearestInt((x[off + 32 * j + i] + dm) / ds)));
            }
        }
        b.putShort(dHalf);
        b.putShort(dminHalf);
        b.put(packed);
        return levels;
    }

    /** ggml get_scale_min_k4: the 6-bit scale of sub-block j. */
    public static int scaleK4(byte[] s, int j) {
        return j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | (((s[j - 4] & 0xFF) >> 6) << 4);
    }

    /** ggml get_scale_min_k4: the 6-bit min of sub-block j. */
    public static int minK4(byte[] s, int j) {
        return j < 4 ? s[j + 4] & 63 : ((s[j + 4] & 0xFF) >> 4) | (((s[j] & 0xFF) >> 6) << 4);
    }

    /**
     * block_q6_K = {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d} over 256 values in 16
     * sub-blocks of 16; x = d·scales[k]·(q − 32) with 6-bit q whose low 4 bits are in ql and high 2 in qh.
     * Per 128-value half: ql[l] holds values l (low nibble) and l+64 (high), ql[l+32] values l+32 and l+96,
     * qh[l] the high bits of values l, l+32, l+64, l+96 at bit 0, 2, 4, 6.
     */
    private static void q6_K(float[] x, int off, ByteBuffer b) {
        float[] scales = new float[16];
        float maxAbsScale = 0;
        float maxScale = 0;
        for (int k = 0; k < 16; k++) {
            float amax = 0;
            float max = 0;
            for (int i = 0; i < 16; i++) {
                float v = x[off + 16 * k + i];
                if (Math.abs(v) > amax) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            scales[k] = max / -32; // as make_qx_quants' first guess: the extreme value maps to -32
            if (Math.abs(scales[k]) > maxAbsScale) {
                maxAbsScale = Math.abs(scales[k]);
                maxScale = scales[k];
            }
        }
        byte[] sc = new byte[16];
        int[] levels = new int[256];
        float d = 0;
        if (maxAbsScale != 0) {
            float iscale = -128f / maxScale;
            d = 1 / iscale;
            for (int k = 0; k < 16; k++) {
                sc[k] = (byte) Math.min(127, nearestInt(iscale * scales[k]));
            }
        }
        short dHalf = Float16.fromFloat(d);
        float dq = Float16.toFloat(dHalf);
        for (int k = 0; k < 16; k++) {
            float ds = dq * sc[k];
            for (int i = 0; i < 16; i++) {
                int l = ds == 0 ? 0 : Math.max(-32, Math.min(31, nearestInt(x[off + 16 * k + i] / ds)));
                levels[16 * k + i] = l + 32;
            }
        }
        byte[] ql = new byte[128];
        byte[] qh = new byte[64];
        for (int j = 0, qlo = 0, qho = 0; j < 256; j += 128, qlo += 64, qho += 32) {
            for (int l = 0; l < 32; l++) {
                int q1 = levels[j + l] & 0xF;
                int q2 = levels[j + l + 32] & 0xF;
                int q3 = levels[j + l + 64] & 0xF;
                int q4 = levels[j + l + 96] & 0xF;
                ql[qlo + l] = (byte) (q1 | (q3 << 4));
                ql[qlo + l + 32] = (byte) (q2 | (q4 << 4));
                qh[qho + l] = (byte) ((levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                        | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6));
            }
        }
        b.put(ql);
        b.put(qh);
        b.put(sc);
        b.putShort(dHalf);
    }
}
