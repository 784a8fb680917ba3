package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Not a test: the measurement behind {@link Matrix}'s choice of float decoding over llama.cpp's int8
 * activations. Times a Q8_0 matrix-vector product both ways on one thread: (a) the runtime's
 * {@link Matrix#matmul} (int8 weights widened to float, FMA with float x) and (b) x quantized per
 * 32-block to int8 and an integer dot (int8 → int16 multiply → int32 sums, one float FMA per block).
 * Run with {@code -Dinferstream.threads=1} so (a) stays on one thread like (b).
 */
public final class Q8ActivationExperiment {

    static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
    static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256;
    static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256;

    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int cols = args.length > 1 ? Integer.parseInt(args[1]) : 8192;
        Random rnd = new Random(1);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        byte[] bytes = Quantizer.quantize(GgmlType.Q8_0, w);
        Matrix m = Matrix.of(GgmlType.Q8_0, ByteBuffer.wrap(bytes), rows, cols, "exp");
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int blocks = rows * cols / 32;
        byte[] wq = new byte[rows * cols];
        float[] wd = new float[blocks];
        for (int i = 0; i < blocks; i++) {
            wd[i] = Float16.toFloat(bb.getShort(i * 34));
            bb.get(i * 34 + 2, wq, i * 32, 32);
        }
        float[] outA = new float[rows];
        float[] outB = new float[rows];
        byte[] xq = new byte[cols];
        float[] xd = new float[cols / 32];
        for (int pass = 0; pass < 2; pass++) {
            long tA = time(() -> m.matmul(x, outA, 1));
            long tB = time(() -> {
                quantizeActivations(x, xq, xd);
                for (int r = 0; r < rows; r++) {
                    outB[r] = int8Dot(wq, wd, r, cols, xq, xd);
                }
            });
            double err = 0;
            double norm = 0;
            for (int r = 0; r < rows; r++) {
                err += (outA[r] - outB[r]) * (double) (outA[r] - outB[r]);
                norm += outA[r] * (double) outA[r];
            }
            System.out.printf("Q8_0 %dx%d one thread: float decode %.1f us (%.1f GB/s), int8 activations %.1f us "
                            + "(%.1f GB/s), relative difference %.2e%n", rows, cols, tA / 1e3, bytes.length / (double) tA,
                    tB / 1e3, bytes.length / (double) tB, Math.sqrt(err / norm));
        }
    }

    private static long time(Runnable r) {
        long end = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < end) {
            r.run();
        }
        // thread CPU time: on a shared machine wall time also counts time spent waiting for a core
        var cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        int iters = 0;
        long start = System.nanoTime();
        long cpuStart = cpu.getCurrentThreadCpuTime();
        do {
            r.run();
            iters++;
        } while (System.nanoTime() - start < 1_000_000_000L);
        return (cpu.getCurrentThreadCpuTime() - cpuStart) / iters;
    }

    static void quantizeActivations(float[] x, byte[] xq, float[] xd) {
        for (int b = 0; b < xd.length; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            xd[b] = d;
            for (int j = 0; j < 32; j++) {
                xq[b * 32 + j] = (byte) Math.round(x[b * 32 + j] * id);
            }
        }
    }

    static float int8Dot(byte[] wq, float[] wd, int row, int cols, byte[] xq, float[] xd) {
        int blocks = cols / 32;
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            int qo = row * cols + b * 32;
            ByteVector wv = ByteVector.fromArray(B256, wq, qo);
            ByteVector xv = ByteVector.fromArray(B256, xq, b * 32);
            ShortVector p0 = ((ShortVector) wv.convertShape(VectorOperators.B2S, S256, 0))
                    .mul((ShortVector) xv.convertShape(VectorOperators.B2S, S256, 0));
            ShortVector p1 = ((ShortVector) wv.convertShape(VectorOperators.B2S, S256, 1))
                    .mul((ShortVector) xv.convertShape(VectorOperators.B2S, S256, 1));
            IntVector s = ((IntVector) p0.convertShape(VectorOperators.S2I, I256, 0))
                    .add((IntVector) p0.convertShape(VectorOperators.S2I, I256, 1))
                    .add((IntVector) p1.convertShape(VectorOperators.S2I, I256, 0))
                    .add((IntVector) p1.convertShape(VectorOperators.S2I, I256, 1));
            FloatVector sf = (FloatVector) s.convertShape(VectorOperators.I2F, F256, 0);
            acc = sf.fma(FloatVector.broadcast(F256, wd[row * blocks + b] * xd[b]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
