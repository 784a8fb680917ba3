package io.inferstream.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class Float16Test {

    /** IEEE binary16 decoded from its definition, in double. */
    private static double halfValue(int h) {
        int sign = (h >> 15) & 1;
        int exp = (h >> 10) & 0x1F;
        int mant = h & 0x3FF;
        double v;
        if (exp == 0) {
            v = mant * Math.pow(2, -24);
        } else if (exp == 31) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = (1 + mant / 1024.0) * Math.pow(2, exp - 15);
        }
        return sign == 1 ? -v : v;
    }

    /** Round-to-nearest-even by search over the finite positive halves (the definition, not bit tricks). */
    private static int nearestHalf(float f) {
        double a = Math.abs((double) f);
        int sign = f < 0 || (f == 0 && 1 / f < 0) ? 0x8000 : 0;
        if (a >= 65520) {
            return sign | 0x7C00;
        }
        int lo = 0;
        int hi = 0x7BFF;
        while (lo < hi) { // largest h with value(h) <= a
            int mid = (lo + hi + 1) >>> 1;
            if (halfValue(mid) <= a) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        int below = lo;
        int above = below + 1;
        double dBelow = a - halfValue(below);
        double dAbove = halfValue(above) - a;
        int pick = dBelow < dAbove ? below : dAbove < dBelow ? above : (below % 2 == 0 ? below : above);
        return sign | pick;
    }

    @Test
    void everyHalfDecodesToItsIeeeValueAndEncodesBack() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Float16.toFloat((short) h);
            double expected = halfValue(h);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(f), Integer.toHexString(h));
                assertTrue(Float.isNaN(Float16.toFloat(Float16.fromFloat(f))));
            } else {
                assertEquals(expected, f, 0.0, Integer.toHexString(h));
                assertEquals(h, Float16.fromFloat(f) & 0xFFFF, Integer.toHexString(h));
            }
        }
    }

    @Test
    void floatToHalfRoundsToNearestEven() {
        // ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 → even (1); 1 + 3·2^-11 → 1 + 2^-9 (even)
        assertEquals(0x3C00, Float16.fromFloat(1f + 0x1p-11f) & 0xFFFF);
        assertEquals(0x3C02, Float16.fromFloat(1f + 3 * 0x1p-11f) & 0xFFFF);
        assertEquals(0x7BFF, Float16.fromFloat(65519.99f) & 0xFFFF);
        assertEquals(0x7C00, Float16.fromFloat(65520f) & 0xFFFF);
        assertEquals(0xFC00, Float16.fromFloat(Float.NEGATIVE_INFINITY) & 0xFFFF);
        assertEquals(0x0000, Float16.fromFloat(0x1p-26f) & 0xFFFF);  // below half the smallest subnormal 2^-24 → 0
        assertEquals(0x0000, Float16.fromFloat(0x1p-25f) & 0xFFFF);  // exactly half of the smallest subnormal → 0
        assertEquals(0x0001, Float16.fromFloat(0x1.8p-25f) & 0xFFFF);
        assertEquals(0x0002, Float16.fromFloat(3 * 0x1p-25f) & 0xFFFF); // 1.5 units → 2 (even)
        assertEquals(0x8000, Float16.fromFloat(-0f) & 0xFFFF);
        Random rnd = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            float f;
            switch (i % 3) {
                case 0 -> f = (float) (rnd.nextGaussian() * 100);
                case 1 -> f = (float) (rnd.nextGaussian() * 1e-5);
                default -> f = Float.intBitsToFloat(rnd.nextInt());
            }
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals(nearestHalf(f), Float16.fromFloat(f) & 0xFFFF, () -> Float.toString(f));
        }
    }

    @Test
    void bfloat16IsTheRoundedTopHalfOfAFloat() {
        assertEquals(1.0f, Float16.bf16ToFloat((short) 0x3F80));
        assertEquals(-2.0f, Float16.bf16ToFloat((short) 0xC000));
        assertEquals(0x3F80, Float16.floatToBf16(1f + 0x1p-8f) & 0xFFFF);     // tie → even
        assertEquals(0x3F82, Float16.floatToBf16(1f + 3 * 0x1p-8f) & 0xFFFF); // tie → even (up)
        assertEquals(0x3F81, Float16.floatToBf16(1f + 0x1.1p-8f) & 0xFFFF);   // above the tie → up
        assertTrue(Float.isNaN(Float16.bf16ToFloat(Float16.floatToBf16(Float.NaN))));
        Random rnd = new Random(3);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (rnd.nextGaussian() * 1000);
            float back = Float16.bf16ToFloat(Float16.floatToBf16(f));
            assertTrue(Math.abs(back - f) <= Math.abs(f) * 0x1p-8f, () -> f + " -> " + back); // half a bf16 ulp
        }
    }
}
