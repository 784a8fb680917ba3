package io.inferstream.runtime.gguf;

/**
 * IEEE half precision (ggml {@code ggml_fp16_t}) and bfloat16 ({@code ggml_bf16_t}) conversions, bit-exact
 * with ggml: float → half rounds to nearest, ties to even (as F16C {@code vcvtps2ph} and ggml's software
 * {@code fp32_to_fp16}); float → bf16 rounds to nearest even and quiets NaNs
 * ({@code ggml_compute_fp32_to_bf16}).
 */
public final class Float16 {

    private Float16() {
    }

    /** Half bits → float (exact: every half is a float). */
    public static float toFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal (or zero): exact
            return sign != 0 ? -v : v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Float → half bits, round to nearest even; overflow gives ±inf, NaN stays NaN. */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) { // inf or NaN (keep a quiet NaN payload bit)
            return (short) (sign | 0x7C00 | (abs > 0x7F80_0000 ? 0x200 | ((abs >>> 13) & 0x3FF) : 0));
        }
        if (abs >= 0x477F_F000) { // ≥ 65520 rounds to infinity
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x3880_0000) { // below 2^-14: half subnormal, in units of 2^-24 (scaling is exact)
            int m = (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24f);
            return (short) (sign | m); // m == 1024 correctly becomes the smallest normal
        }
        int exp = (abs >>> 23) - 127 + 15;
        int mant = abs & 0x7F_FFFF;
        int h = (exp << 10) | (mant >>> 13);
        int rest = mant & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
            h++; // a carry into the exponent is the right result
        }
        return (short) (sign | h);
    }

    /** bfloat16 bits → float (exact). */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** Float → bfloat16 bits, round to nearest even, NaN forced quiet (as ggml). */
    public static short floatToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7FFF + ((u >>> 16) & 1))) >>> 16);
    }
}
