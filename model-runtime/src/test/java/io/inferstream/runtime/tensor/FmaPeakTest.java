package io.inferstream.runtime.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FmaPeakTest {

    @Test
    void chainsConvergeToTheirFixedPointInBothKernelFamilies() {
        // a <- 0.999 a + 0.001 from 1 stays at 1 (its fixed point): 12 chains x lanes of ones
        assertEquals(12.0, ScalarFloatKernels.fmaChains(10_000), 1e-3);
        if (VectorApiSupport.ENABLED) {
            assertEquals(12.0 * SimdFloatKernels.LANES, SimdFloatKernels.fmaChains(10_000), 1e-2);
        }
    }

    @Test
    void measuresAPositiveFiniteRateAndRejectsZeroRounds() {
        double flops = FmaPeak.measure(1);
        assertTrue(flops > 1e8 && Double.isFinite(flops), "FLOP/s " + flops); // any CPU of this century
        assertThrows(IllegalArgumentException.class, () -> FmaPeak.measure(0));
    }
}
