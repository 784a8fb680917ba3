package io.inferstream.runtime.tensor;

import java.util.Random;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Not a test: scratch measurement of Q8_0 dot formulations (thread CPU time). */
public final class Q8DotVariants {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
    static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
    static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    interface Dot { float dot(byte[] q, float[] d, int row, int cols, float[] x); }

    static float v64(byte[] q, float[] d, int row, int cols, float[] x) {
        int blocks = cols / 32;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int qo = row * cols + b * 32;
            int xo = b * 32;
            FloatVector p = ((FloatVector) ByteVector.fromArray(B64, q, qo).convertShape(VectorOperators.B2F, F, 0)).mul(FloatVector.fromArray(F, x, xo));
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 8).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 8), p);
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 16).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), p);
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 24).convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 24), p);
            acc = p.fma(FloatVector.broadcast(F, d[row * blocks + b]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float v256parts(byte[] q, float[] d, int row, int cols, float[] x) {
        int blocks = cols / 32;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int qo = row * cols + b * 32;
            int xo = b * 32;
            ByteVector w = ByteVector.fromArray(B256, q, qo);
            FloatVector p = ((FloatVector) w.castShape(F, 0)).mul(FloatVector.fromArray(F, x, xo));
            p = ((FloatVector) w.castShape(F, 1)).fma(FloatVector.fromArray(F, x, xo + 8), p);
            p = ((FloatVector) w.castShape(F, 2)).fma(FloatVector.fromArray(F, x, xo + 16), p);
            p = ((FloatVector) w.castShape(F, 3)).fma(FloatVector.fromArray(F, x, xo + 24), p);
            acc = p.fma(FloatVector.broadcast(F, d[row * blocks + b]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float v128parts(byte[] q, float[] d, int row, int cols, float[] x) {
        int blocks = cols / 32;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int qo = row * cols + b * 32;
            int xo = b * 32;
            ByteVector w0 = ByteVector.fromArray(B128, q, qo);
            ByteVector w1 = ByteVector.fromArray(B128, q, qo + 16);
            FloatVector p = ((FloatVector) w0.convertShape(VectorOperators.B2F, F, 0)).mul(FloatVector.fromArray(F, x, xo));
            p = ((FloatVector) w0.convertShape(VectorOperators.B2F, F, 1)).fma(FloatVector.fromArray(F, x, xo + 8), p);
            p = ((FloatVector) w1.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), p);
            p = ((FloatVector) w1.convertShape(VectorOperators.B2F, F, 1)).fma(FloatVector.fromArray(F, x, xo + 24), p);
            acc = p.fma(FloatVector.broadcast(F, d[row * blocks + b]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Scale folded into x beforehand is impossible (per-row scales), so: two rows share each x load. */
    static float v64TwoRows(byte[] q, float[] d, int row, int cols, float[] x) {
        int blocks = cols / 32;
        FloatVector acc = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        int r2 = row ^ 1;
        for (int b = 0; b < blocks; b++) {
            int qo = row * cols + b * 32;
            int qo2 = r2 * cols + b * 32;
            int xo = b * 32;
            FloatVector x0 = FloatVector.fromArray(F, x, xo);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + 8);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 16);
            FloatVector x3 = FloatVector.fromArray(F, x, xo + 24);
            FloatVector p = ((FloatVector) ByteVector.fromArray(B64, q, qo).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
            FloatVector s = ((FloatVector) ByteVector.fromArray(B64, q, qo2).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 8).convertShape(VectorOperators.B2F, F, 0)).fma(x1, p);
            s = ((FloatVector) ByteVector.fromArray(B64, q, qo2 + 8).convertShape(VectorOperators.B2F, F, 0)).fma(x1, s);
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 16).convertShape(VectorOperators.B2F, F, 0)).fma(x2, p);
            s = ((FloatVector) ByteVector.fromArray(B64, q, qo2 + 16).convertShape(VectorOperators.B2F, F, 0)).fma(x2, s);
            p = ((FloatVector) ByteVector.fromArray(B64, q, qo + 24).convertShape(VectorOperators.B2F, F, 0)).fma(x3, p);
            s = ((FloatVector) ByteVector.fromArray(B64, q, qo2 + 24).convertShape(VectorOperators.B2F, F, 0)).fma(x3, s);
            acc = p.fma(FloatVector.broadcast(F, d[row * blocks + b]), acc);
            acc2 = s.fma(FloatVector.broadcast(F, d[r2 * blocks + b]), acc2);
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD);
    }

    public static void main(String[] args) {
        int rows = 576, cols = 1536;
        Random rnd = new Random(1);
        byte[] q = new byte[rows * cols];
        rnd.nextBytes(q);
        float[] d = new float[rows * cols / 32];
        float[] x = new float[cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < d.length; i++) d[i] = rnd.nextFloat();
        Dot[] dots = {Q8DotVariants::v64, Q8DotVariants::v256parts, Q8DotVariants::v128parts, Q8DotVariants::v64TwoRows};
        String[] names = {"64-bit loads", "256-bit load + castShape parts", "128-bit loads + parts", "64-bit, two rows (per row pair)"};
        float[] out = new float[rows];
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < dots.length; k++) {
                Dot dot = dots[k];
                int step = k == 3 ? 2 : 1;
                long end = System.nanoTime() + 1_500_000_000L;
                while (System.nanoTime() < end) for (int r = 0; r < rows; r += step) out[r] = dot.dot(q, d, r, cols, x);
                long c0 = CPU.getCurrentThreadCpuTime();
                int it = 0;
                for (; it < 2000; it++) for (int r = 0; r < rows; r += step) out[r] = dot.dot(q, d, r, cols, x);
                double us = (CPU.getCurrentThreadCpuTime() - c0) / 1e3 / it;
                System.out.printf("%-35s %8.1f us per 576x1536 (%.1f GB/s of int8)%n", names[k], us, rows * cols / us / 1e3);
            }
        }
    }
}
