package io.inferstream.runtime.tensor;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import java.nio.ByteBuffer;
import java.util.Random;

/**
 * Main run in a separate JVM by {@link KernelFamiliesInOtherJvmsTest}: prints which kernels are active and what
 * {@link CompilerTrapLimit} advises, then
 * checks matmul, dot and two VectorMath ops of every supported type against float64 sums over the
 * scalar-decoded weights. Exit status 0 when all agree, 1 (with the first failure printed) otherwise.
 */
public final class KernelProbe {

    public static void main(String[] args) {
        System.out.println("kernels: " + VectorMath.kernelDescription());
        System.out.println("compiler: " + CompilerTrapLimit.advice().orElse("no advice"));
        Random rnd = new Random(9);
        for (GgmlType type : GgmlType.supportedTypes()) {
            int rows = 9; // single-token sets of four rows two apart, and a last row alone
            int cols = type.blockSize() == 256 ? 512 : type == GgmlType.F32 ? 172 : 160;
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian();
            }
            Matrix m = Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, "probe");
            float[] decoded = new float[cols];
            for (int n : new int[] {1, 2, 3, 4, 5, 6, 13}) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                float[] out = new float[n * rows];
                m.matmul(x, out, n);
                for (int r = 0; r < rows; r++) {
                    m.dequantizeRow(r, decoded, 0);
                    for (int t = 0; t < n; t++) {
                        double sum = 0;
                        double abs = 0;
                        for (int c = 0; c < cols; c++) {
                            sum += (double) decoded[c] * x[t * cols + c];
                            abs += Math.abs((double) decoded[c] * x[t * cols + c]);
                        }
                        check(type + " matmul n=" + n + " r=" + r + " t=" + t, sum, out[t * rows + r], 2e-5 * abs);
                        check(type + " dot r=" + r + " t=" + t, sum, m.dot(r, x, t * cols), 2e-5 * abs);
                        if (Float.floatToIntBits(m.dot(r, x, t * cols)) != Float.floatToIntBits(out[t * rows + r])) {
                            System.out.println("MISMATCH " + type + " n=" + n + " r=" + r + " t=" + t
                                    + ": matmul and dot differ bitwise");
                            System.exit(1);
                        }
                    }
                }
            }
        }
        float[] a = new float[37];
        float[] b = new float[37];
        double ref = 0;
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
            b[i] = (float) rnd.nextGaussian();
            ref += (double) a[i] * b[i];
        }
        check("VectorMath.dot", ref, VectorMath.dot(a, 0, b, 0, 37), 1e-5);
        float[] y = b.clone();
        VectorMath.axpy(2f, a, 0, y, 0, 37);
        for (int i = 0; i < 37; i++) {
            check("VectorMath.axpy " + i, b[i] + 2.0 * a[i], y[i], 1e-6);
        }
        float[] gate = a.clone();
        VectorMath.geglu(gate, b, 0, 37);
        for (int i = 0; i < 37; i++) {
            double g = a[i];
            double gelu = 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)));
            check("VectorMath.geglu " + i, gelu * b[i], gate[i], 1e-6 * (1 + Math.abs(g * b[i])));
        }
        System.out.println("all kernels agree with float64");
    }

    private static void check(String what, double expected, float got, double tol) {
        if (!(Math.abs(expected - got) <= tol)) {
            System.out.println("MISMATCH " + what + ": expected " + expected + " got " + got + " tolerance " + tol);
            System.exit(1);
        }
    }
}
