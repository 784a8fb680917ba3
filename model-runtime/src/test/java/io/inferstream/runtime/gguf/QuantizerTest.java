package io.inferstream.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The quantizers against llama.cpp's reference arithmetic (quantize_row_q8_0_ref, quantize_row_q4_0_ref),
 * and the K-quants against their error bounds. Decoding here is written out from the ggml layout, independently
 * of the runtime's matrices.
 */
class QuantizerTest {

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void q8_0MatchesTheReferenceQuantizer() {
        float[] x = gaussian(32 * 8, 1);
        x[5] = 0.0f;
        for (int j = 32; j < 64; j++) {
            x[j] = 0; // an all-zero block has d = 0 and all-zero quants
        }
        ByteBuffer b = le(Quantizer.quantize(GgmlType.Q8_0, x));
        assertEquals(8 * 34, b.capacity());
        for (int blk = 0; blk < 8; blk++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[blk * 32 + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            assertEquals(Float16.fromFloat(d), b.getShort(blk * 34));
            for (int j = 0; j < 32; j++) {
                float v = x[blk * 32 + j] * id;
                long expected = v < 0 ? -Math.round(Math.floor(-v + 0.5)) : Math.round(Math.floor(v + 0.5)); // roundf
                assertEquals(expected, b.get(blk * 34 + 2 + j), "block " + blk + " element " + j);
            }
        }
    }

    @Test
    void q4_0MatchesTheReferenceQuantizer() {
        float[] x = gaussian(32 * 4, 2);
        ByteBuffer b = le(Quantizer.quantize(GgmlType.Q4_0, x));
        for (int blk = 0; blk < 4; blk++) {
            float max = 0;
            for (int j = 0; j < 32; j++) {
                if (Math.abs(x[blk * 32 + j]) > Math.abs(max)) {
                    max = x[blk * 32 + j];
                }
            }
            float d = max / -8;
            float id = 1 / d;
            assertEquals(Float16.fromFloat(d), b.getShort(blk * 18));
            for (int j = 0; j < 16; j++) {
                int q = b.get(blk * 18 + 2 + j) & 0xFF;
                assertEquals(Math.min(15, (int) (x[blk * 32 + j] * id + 8.5f)), q & 0xF);
                assertEquals(Math.min(15, (int) (x[blk * 32 + 16 + j] * id + 8.5f)), q >> 4);
            }
        }
    }

    /** Decodes Q4_K from the layout in ggml-quants.c (dequantize_row_q4_K). */
    static float[] decodeQ4K(byte[] bytes) {
        ByteBuffer b = le(bytes);
        float[] y = new float[bytes.length / 144 * 256];
        for (int i = 0; i < bytes.length / 144; i++) {
            int o = i * 144;
            float d = Float16.toFloat(b.getShort(o));
            float dmin = Float16.toFloat(b.getShort(o + 2));
            byte[] s = new byte[12];
            b.get(o + 4, s, 0, 12);
            int q = o + 16;
            int is = 0;
            int yi = i * 256;
            for (int j = 0; j < 256; j += 64) {
                float d1 = d * Quantizer.scaleK4(s, is);
                float m1 = dmin * Quantizer.minK4(s, is);
                float d2 = d * Quantizer.scaleK4(s, is + 1);
                float m2 = dmin * Quantizer.minK4(s, is + 1);
                for (int l = 0; l < 32; l++) {
                    y[yi + j + l] = d1 * (b.get(q + l) & 0xF) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    y[yi + j + 32 + l] = d2 * ((b.get(q + l) & 0xFF) >> 4) - m2;
                }
                q += 32;
                is += 2;
            }
        }
        return y;
    }

    /** Decodes Q6_K from the layout in ggml-quants.c (dequantize_row_q6_K). */
    static float[] decodeQ6K(byte[] bytes) {
        ByteBuffer b = le(bytes);
        float[] y = new float[bytes.length / 210 * 256];
        for (int i = 0; i < bytes.length / 210; i++) {
            int o = i * 210;
            float d = Float16.toFloat(b.getShort(o + 208));
            int ql = o;
            int qh = o + 128;
            int sc = o + 192;
            int yi = i * 256;
            for (int n = 0; n < 256; n += 128) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int h = b.get(qh + l) & 0xFF;
                    int q1 = ((b.get(ql + l) & 0xF) | ((h & 3) << 4)) - 32;
                    int q2 = ((b.get(ql + l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = (((b.get(ql + l) & 0xFF) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = (((b.get(ql + l + 32) & 0xFF) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    y[yi + l] = d * b.get(sc + is) * q1;
                    y[yi + l + 32] = d * b.get(sc + is + 2) * q2;
                    y[yi + l + 64] = d * b.get(sc + is + 4) * q3;
                    y[yi + l + 96] = d * b.get(sc + is + 6) * q4;
                }
                yi += 128;
                ql += 64;
                qh += 32;
                sc += 8;
            }
        }
        return y;
    }

    private static double relativeRmsError(float[] x, float[] y) {
        double err = 0;
        double ref = 0;
        for (int i = 0; i < x.length; i++) {
            err += (x[i] - y[i]) * (double) (x[i] - y[i]);
            ref += x[i] * (double) x[i];
        }
        return Math.sqrt(err / ref);
    }

    @Test
    void kQuantsReconstructWithinTheirPrecision() {
        float[] x = gaussian(256 * 16, 3);
        double e4 = relativeRmsError(x, decodeQ4K(Quantizer.quantize(GgmlType.Q4_K, x)));
        double e6 = relativeRmsError(x, decodeQ6K(Quantizer.quantize(GgmlType.Q6_K, x)));
        // 4 bits with a min: ~0.1 relative RMS for Gaussian data (llama.cpp's search gets ~0.09); 6 bits ~0.03
        assertTrue(e4 < 0.13, "Q4_K error " + e4);
        assertTrue(e6 < 0.04, "Q6_K error " + e6);
        assertTrue(e6 < e4 / 2.5, "Q6_K should be far more precise than Q4_K: " + e6 + " vs " + e4);
    }

    @Test
    void floatFormatsEncodeEachValue() {
        float[] x = {1.5f, -0.333f, 65504f, 1e-7f};
        ByteBuffer f16 = le(Quantizer.quantize(GgmlType.F16, x));
        ByteBuffer bf16 = le(Quantizer.quantize(GgmlType.BF16, x));
        ByteBuffer f32 = le(Quantizer.quantize(GgmlType.F32, x));
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float16.fromFloat(x[i]), f16.getShort(2 * i));
            assertEquals(Float16.floatToBf16(x[i]), bf16.getShort(2 * i));
            assertEquals(x[i], f32.getFloat(4 * i));
        }
    }

    /**
     * Q2_K, Q3_K, IQ4_NL and IQ4_XS, decoded by the runtime's matrices (which match gguf-py bit for bit,
     * GgufQuantsReferenceTest), come back within each type's worst case: half a step, or the clamp on the side opposite
     * the extreme value (Q3_K reaches only 3 of its −4 steps there, IQ4 113 of 127), plus the rounding of the group's
     * scale to the super-block's grid (4 bits for Q2_K, 6 for the others). Groups differ in size by up to 3000×.
     */
    @Test
    void lowBitTypesReadBackWithinTheirWorstCase() {
        Random r = new Random(12);
        float[] x = new float[4 * 256];
        float[] groupSize = {0.01f, 1f, 30f};
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian() * groupSize[(i / 16 * 7) % 3];
        }
        x[3] = 0;
        java.util.Arrays.fill(x, 512, 544, 0f); // an all-zero group of every type
        for (GgmlType type : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS}) {
            byte[] bytes = Quantizer.quantize(type, x);
            assertEquals(type.bytesFor(x.length), bytes.length, type.name());
            io.inferstream.runtime.tensor.Matrix m = io.inferstream.runtime.tensor.Matrix.of(type, le(bytes), 4, 256, type.name());
            float[] back = new float[x.length];
            for (int row = 0; row < 4; row++) {
                m.dequantizeRow(row, back, 256 * row);
            }
            int group = type == GgmlType.IQ4_NL || type == GgmlType.IQ4_XS ? 32 : 16;
            for (int sb = 0; sb < x.length; sb += type == GgmlType.IQ4_NL ? 32 : 256) {
                int sbLength = type == GgmlType.IQ4_NL ? 32 : 256;
                float sbMax = amax(x, sb, sbLength);
                for (int g = sb; g < sb + sbLength; g += group) {
                    float gMax = amax(x, g, group);
                    double bound = switch (type) {
                        case Q2_K -> 2 * gMax / 6 + 3 * (2 * sbMax / 3) / 30 + sbMax / 30;
                        case Q3_K -> 0.25 * gMax + 4 * (sbMax / 4) / 64;
                        case IQ4_NL -> 14.0 / 127 * gMax;
                        default -> 14.0 / 127 * gMax + 127 * (sbMax / 127) / 64;
                    };
                    for (int i = g; i < g + group; i++) {
                        assertEquals(x[i], back[i], bound * 1.01 + 1e-6, type + " value " + i);
                    }
                }
            }
            for (int i = 512; i < 544; i++) {
                assertEquals(0f, Math.abs(back[i]), type + ": the zero group at " + i);
            }
        }
    }

    private static float amax(float[] x, int off, int n) {
        float a = 0;
        for (int i = off; i < off + n; i++) {
            a = Math.max(a, Math.abs(x[i]));
        }
        return a;
    }

    @Test
    void typesWithoutAQuantizerAndPartialBlocksAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Quantizer.quantize(GgmlType.IQ2_XXS, new float[256]));
        assertTrue(e.getMessage().contains("IQ2_XXS"));
        assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(GgmlType.Q8_0, new float[33]));
    }
}
