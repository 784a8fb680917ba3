package io.inferstream.runtime.gguf;

import java.nio.ByteBuffer;

/**
 * Encoders for the 2- to 4-bit types Q2_K, Q3_K, IQ4_NL and IQ4_XS, in the block layouts the runtime decodes (see
 * {@code ScaleMinMatrix} and {@code ScaleMatrix}). Like {@link Quantizer}'s K-quants they take llama.cpp's first guess
 * for each scale (the group's extreme value, or its min and max) and skip its iterative search
 * ({@code make_q3_quants}, {@code make_qkx2_quants}, the IQ4 scale trials): valid blocks with a somewhat larger error,
 * good enough for random-weight benchmarks and tests, not for quantizing a real model.
 */
final class LowBitQuantizer {

    /** ggml's {@code kvalues_iq4nl}. */
    static final int[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private LowBitQuantizer() {
    }

    /**
     * block_q2_K = {uint8 scales[16]; uint8 qs[64]; half d; half dmin}: 16 groups of 16 with a 4-bit scale (low nibble)
     * and min (high nibble), x = d·sc·q − dmin·m, q 2 bits; value 32·j + l of half h is bits 2·j of qs[32·h + l].
     */
    static void q2K(float[] x, int off, ByteBuffer b) {
        float[] scales = new float[16];
        float[] mins = new float[16];
        float maxScale = 0;
        float maxMin = 0;
        for (int k = 0; k < 16; k++) {
            float lo = 0;
            float hi = 0;
            for (int i = 0; i < 16; i++) {
                lo = Math.min(lo, x[off + 16 * k + i]);
                hi = Math.max(hi, x[off + 16 * k + i]);
            }
            scales[k] = (hi - lo) / 3;
            mins[k] = -lo;
            maxScale = Math.max(maxScale, scales[k]);
            maxMin = Math.max(maxMin, mins[k]);
        }
        short dHalf = Float16.fromFloat(maxScale / 15);
        short dminHalf = Float16.fromFloat(maxMin / 15);
        float d = Float16.toFloat(dHalf);
        float dmin = Float16.toFloat(dminHalf);
        byte[] packed = new byte[16];
        byte[] qs = new byte[64];
        for (int k = 0; k < 16; k++) {
            int ls = d > 0 ? Math.min(15, Math.round(scales[k] / d)) : 0;
            int lm = dmin > 0 ? Math.min(15, Math.round(mins[k] / dmin)) : 0;
            packed[k] = (byte) (ls | lm << 4);
            float ds = d * ls;
            float dm = dmin * lm;
            for (int i = 0; i < 16; i++) {
                int v = 16 * k + i; // value v is 128·h + 32·j + l
                int q = ds == 0 ? 0 : Math.max(0, Math.min(3, Math.round((x[off + v] + dm) / ds)));
                qs[32 * (v / 128) + v % 32] |= (byte) (q << (2 * ((v % 128) / 32)));
            }
        }
        b.put(packed).put(qs).putShort(dHalf).putShort(dminHalf);
    }

    /**
     * block_q3_K = {uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d}: 16 groups of 16 with a 6-bit scale
     * sc, x = d·(sc − 32)·q, q in −4..3 stored as q + 4: its low 2 bits as Q2_K's qs, its third bit at bit 4·h + j of
     * hmask[l]. Scale k's low nibble is byte k (k &lt; 8) or the high nibble of byte k − 8, its top 2 bits are at
     * bit 2·(k / 4) of byte 8 + k % 4.
     */
    static void q3K(float[] x, int off, ByteBuffer b) {
        float[] scales = new float[16];
        float maxScale = 0;
        for (int k = 0; k < 16; k++) {
            scales[k] = extreme(x, off + 16 * k, 16) / -4; // the extreme value maps to −4
            if (Math.abs(scales[k]) > Math.abs(maxScale)) {
                maxScale = scales[k];
            }
        }
        short dHalf = Float16.fromFloat(maxScale / -32);
        float d = Float16.toFloat(dHalf);
        byte[] hmask = new byte[32];
        byte[] qs = new byte[64];
        byte[] packed = new byte[12];
        for (int k = 0; k < 16; k++) {
            int l = d != 0 ? Math.max(-32, Math.min(31, Math.round(scales[k] / d))) : 0;
            int ls = l + 32;
            packed[k % 8] |= (byte) ((ls & 0xF) << (k < 8 ? 0 : 4));
            packed[8 + k % 4] |= (byte) ((ls >> 4) << (2 * (k / 4)));
            float ds = d * l;
            for (int i = 0; i < 16; i++) {
                int v = 16 * k + i;
                int q = (ds == 0 ? 0 : Math.max(-4, Math.min(3, Math.round(x[off + v] / ds)))) + 4;
                int h = v / 128;
                int j = (v % 128) / 32;
                qs[32 * h + v % 32] |= (byte) ((q & 3) << (2 * j));
                hmask[v % 32] |= (byte) ((q >> 2) << (4 * h + j));
            }
        }
        b.put(hmask).put(qs).put(packed).putShort(dHalf);
    }

    /** block_iq4_nl = {half d; uint8 qs[16]}: x = d·level[nibble]; element j &lt; 16 is qs[j]'s low nibble, j + 16 its high. */
    static void iq4NL(float[] x, int off, ByteBuffer b) {
        short dHalf = Float16.fromFloat(extreme(x, off, 32) / IQ4_LEVELS[0]); // the extreme value maps to −127
        b.putShort(dHalf);
        levels(x, off, Float16.toFloat(dHalf), b);
    }

    /**
     * block_iq4_xs = {half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]}: 8 groups of 32 with a 6-bit scale ls,
     * x = d·(ls − 32)·level[nibble]; ls's low nibble is nibble g % 2 of scales_l[g / 2], its top 2 bits at bit 2·g of
     * scales_h; each group's 16 qs bytes as IQ4_NL's.
     */
    static void iq4XS(float[] x, int off, ByteBuffer b) {
        float[] scales = new float[8];
        float maxScale = 0;
        for (int g = 0; g < 8; g++) {
            scales[g] = extreme(x, off + 32 * g, 32) / IQ4_LEVELS[0];
            if (Math.abs(scales[g]) > Math.abs(maxScale)) {
                maxScale = scales[g];
            }
        }
        short dHalf = Float16.fromFloat(maxScale / -32);
        float d = Float16.toFloat(dHalf);
        int high = 0;
        byte[] low = new byte[4];
        int[] ls = new int[8];
        for (int g = 0; g < 8; g++) {
            ls[g] = (d != 0 ? Math.max(-32, Math.min(31, Math.round(scales[g] / d))) : 0) + 32;
            low[g / 2] |= (byte) ((ls[g] & 0xF) << (4 * (g % 2)));
            high |= (ls[g] >> 4) << (2 * g);
        }
        b.putShort(dHalf).putShort((short) high).put(low);
        for (int g = 0; g < 8; g++) {
            levels(x, off + 32 * g, d * (ls[g] - 32), b);
        }
    }

    /** The value of largest magnitude among {@code n} at {@code off}, with its sign (the first of equals). */
    private static float extreme(float[] x, int off, int n) {
        float max = 0;
        for (int i = 0; i < n; i++) {
            if (Math.abs(x[off + i]) > Math.abs(max)) {
                max = x[off + i];
            }
        }
        return max;
    }

    /** 32 values as the 16 bytes of IQ4 nibbles: each the level nearest to value / d. */
    private static void levels(float[] x, int off, float d, ByteBuffer b) {
        for (int j = 0; j < 16; j++) {
            b.put((byte) (nearestLevel(x[off + j], d) | nearestLevel(x[off + j + 16], d) << 4));
        }
    }

    private static int nearestLevel(float v, float d) {
        if (d == 0) {
            return 8; // level 1 of 127: the smallest magnitude, times a zero scale
        }
        float t = v / d;
        int best = 0;
        for (int i = 1; i < 16; i++) {
            if (Math.abs(t - IQ4_LEVELS[i]) < Math.abs(t - IQ4_LEVELS[best])) {
                best = i;
            }
        }
        return best;
    }
}
