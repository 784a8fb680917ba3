package io.inferstream.runtime.cuda;

import org.junit.jupiter.api.Assumptions;

/**
 * The CUDA device GPU tests run on, opened once per JVM. Without one the tests are skipped with a one-line
 * reason, except when {@code INFERSTREAM_REQUIRE_GPU=1} (the device check script sets it on GPU machines):
 * then a missing device fails them, so GPU tests can never pass there by being skipped.
 */
public final class CudaTestDevice {

    private static CudaDevice device;

    private CudaTestDevice() {
    }

    public static synchronized CudaDevice require() {
        CudaDevice.Probe p = CudaDevice.probe();
        if (!p.available()) {
            String reason = "no CUDA device: " + p.reason()
                    + " (GPU tests run on an NVIDIA machine via deploy/gpu/check.sh)";
            if ("1".equals(System.getenv("INFERSTREAM_REQUIRE_GPU"))) {
                throw new AssertionError(reason + " (INFERSTREAM_REQUIRE_GPU=1: GPU tests must not be skipped here)");
            }
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        if (device == null) {
            device = CudaDevice.open(0);
            System.out.println("GPU tests on " + device);
        }
        device.makeCurrent();
        return device;
    }

    /** ||a - b|| / ||b|| over the first n elements (b is the reference). */
    public static double relativeError(float[] a, float[] b, int n) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < n; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
