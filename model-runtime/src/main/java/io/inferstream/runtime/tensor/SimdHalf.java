package io.inferstream.runtime.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * IEEE half → float on vectors (Java 17 has no half conversion instruction in the Vector API): the half's
 * magnitude bits shifted into a float's place and multiplied by 2¹¹² rebias the exponent, exactly, for
 * normal and subnormal halves alike; infinities and NaNs get the float exponent by a blend, and the sign
 * is or-ed back. Bitwise {@code Float16.toFloat} for every one of the 65536 halves. This is what makes an
 * F16 KV cache read at vector speed: half the bytes of an F32 one for attention to stream.
 */
final class SimdHalf {

    private static final VectorSpecies<Float> F = SimdFloatKernels.F;
    private static final int LANES = SimdFloatKernels.LANES;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * 16));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(LANES * 32));

    private SimdHalf() {
    }

    /** dst[dstOff + i] = float(src[srcOff + i]) for i &lt; n. */
    static void toFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int bound = n - LANES; i <= bound; i += LANES) {
            IntVector h = (IntVector) ShortVector.fromArray(S, src, srcOff + i).convertShape(VectorOperators.S2I, I, 0);
            IntVector mag = h.and(0x7FFF);
            IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
            FloatVector f = ((FloatVector) mag.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats()).mul(0x1p112f);
            IntVector bits = (IntVector) f.reinterpretAsInts();
            VectorMask<Integer> special = mag.compare(VectorOperators.GE, 0x7C00); // infinity or NaN
            bits = bits.blend(mag.and(0x3FF).lanewise(VectorOperators.LSHL, 13).or(0x7F80_0000), special);
            ((FloatVector) bits.or(sign).reinterpretAsFloats()).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = VectorMath.f16ToF32(src[srcOff + i]);
        }
    }
}
