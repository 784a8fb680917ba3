package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.tensor.Matrix;

/**
 * Each matrix-product kernel against the CPU matrix of the same quantized weights on random inputs:
 * ||gpu - cpu|| / ||cpu|| within the precision's bound. Float-FMA kernels (matvec, tiled) keep activations in
 * float like the CPU, so only summation order differs (1e-5); tensor-core kernels round activations to the
 * weight type (bf16: 8 mantissa bits, bound 1e-2; f16: 11 bits, bound 2e-3): the batched WMMA kernel and the
 * split-K skinny decode kernel alike.
 */
class DeviceKernelsGpuTest {

    private static CudaDevice device;

    @BeforeEach
    void open() {
        device = CudaTestDevice.require();
    }

    @ParameterizedTest(name = "{0} {1} rows={2} cols={3} n={4}")
    @CsvSource({
        "F32, MATVEC, 100, 96, 1, 1e-5",
        "F32, MATVEC, 100, 96, 8, 1e-5",
        "F32, TILED, 100, 96, 37, 1e-5",
        "F32, TILED, 130, 200, 130, 1e-5",
        "F16, MATVEC, 100, 96, 3, 1e-5",
        "F16, TILED, 100, 96, 37, 1e-5",
        "F16, WMMA, 100, 96, 37, 2e-3",
        "F16, WMMA, 96, 176, 130, 2e-3",
        "BF16, MATVEC, 100, 96, 5, 1e-5",
        "BF16, TILED, 100, 96, 37, 1e-5",
        "BF16, WMMA, 100, 96, 37, 1e-2",
        "BF16, WMMA, 2048, 2048, 64, 1e-2",
        "BF16, WMMA, 33, 40, 9, 1e-2",
        "Q8_0, MATVEC, 100, 96, 8, 1e-5",
        "Q8_0, TILED, 100, 96, 9, 1e-5",
        "Q8_0, TILED, 515, 256, 70, 1e-5",
        // Q8_0 on tensor cores: activations rounded to F16 (the CPU keeps them in float)
        "Q8_0, STREAM_QUANT, 515, 256, 9, 5e-3",
        "Q8_0, STREAM_QUANT, 2048, 2048, 64, 5e-3",
        "Q8_0, STREAM_QUANT, 200, 8192, 40, 5e-3",
        "Q8_0, STREAM_QUANT, 130, 96, 1, 5e-3",
        "Q8_0, STREAM_QUANT, 136, 160, 130, 5e-3",
        "BF16, SKINNY, 2048, 2048, 64, 1e-2",
        "BF16, SKINNY, 128, 256, 9, 1e-2",
        "BF16, SKINNY, 8192, 2048, 16, 1e-2",
        "BF16, SKINNY, 2048, 8192, 40, 1e-2",
        "BF16, SKINNY, 4016, 64, 64, 1e-2",
        "F16, SKINNY, 96, 176, 33, 2e-3",
        "BF16, SKINNY_SMEM, 2048, 2048, 64, 1e-2",
        "BF16, SKINNY_SMEM, 128, 256, 9, 1e-2",
        "BF16, SKINNY_SMEM, 8192, 2048, 16, 1e-2",
        "BF16, SKINNY_SMEM, 2048, 8192, 40, 1e-2",
        "BF16, SKINNY_SMEM, 4016, 64, 64, 1e-2",
        "F16, SKINNY_SMEM, 96, 176, 33, 2e-3",
        "F16, SKINNY_SMEM, 48, 208, 17, 2e-3",
        "BF16, SKINNY_PIPE, 2048, 2048, 64, 1e-2",
        "BF16, SKINNY_PIPE, 128, 256, 9, 1e-2",
        "BF16, SKINNY_PIPE, 8192, 2048, 16, 1e-2",
        "BF16, SKINNY_PIPE, 2048, 8192, 40, 1e-2",
        "BF16, SKINNY_PIPE, 4016, 64, 64, 1e-2",
        "BF16, SKINNY_PIPE, 512, 2048, 64, 1e-2",
        "F16, SKINNY_PIPE, 96, 176, 33, 2e-3",
        "F16, SKINNY_PIPE, 48, 208, 17, 2e-3",
        "BF16, SKINNY_PIPE_DEEP, 2048, 2048, 64, 1e-2",
        "BF16, SKINNY_PIPE_DEEP, 512, 2048, 64, 1e-2",
        "BF16, SKINNY_PIPE_DEEP, 2048, 8192, 40, 1e-2",
        "BF16, SKINNY_PIPE_DEEP, 8192, 2048, 16, 1e-2",
        "BF16, SKINNY_PIPE_DEEP, 128, 256, 9, 1e-2",
        "F16, SKINNY_PIPE_DEEP, 48, 208, 17, 2e-3",
        "F16, SKINNY_PIPE_DEEP, 96, 400, 33, 2e-3",
        // matmul_stream: 128-row blocks, 64-k chunks, 8-token tiles, split-K (several splits: partial sums and
        // splitk_reduce; one split: y written directly), rows and cols off every tile size, 1..64 tokens
        "BF16, STREAM_DEEP, 2048, 2048, 64, 1e-2",
        "BF16, STREAM_DEEP, 512, 2048, 16, 1e-2",
        "BF16, STREAM_DEEP, 2048, 8192, 40, 1e-2",
        "BF16, STREAM_DEEP, 200, 1024, 9, 1e-2",
        "F16, STREAM_DEEP, 33, 520, 5, 2e-3",
        "BF16, STREAM, 2048, 2048, 64, 1e-2",
        "BF16, STREAM, 2048, 2048, 1, 1e-2",
        "BF16, STREAM, 8192, 2048, 16, 1e-2",
        "BF16, STREAM, 2048, 8192, 63, 1e-2",
        "BF16, STREAM, 512, 2048, 5, 1e-2",
        "BF16, STREAM, 1000, 2056, 64, 1e-2",
        "BF16, STREAM, 100, 200, 1, 1e-2",
        "BF16, STREAM, 100, 200, 5, 1e-2",
        "BF16, STREAM, 5000, 256, 63, 1e-2",
        "BF16, STREAM, 33, 520, 16, 1e-2",
        "BF16, STREAM, 4016, 72, 64, 1e-2",
        "F16, STREAM, 130, 264, 64, 2e-3",
        "F16, STREAM, 17, 8, 5, 2e-3",
        "F16, STREAM, 2000, 1544, 16, 2e-3",
        "F16, STREAM, 96, 176, 1, 2e-3",
        // matmul_stream_wide: the same code with 16-warp blocks of 256 rows
        "BF16, STREAM_WIDE, 8192, 2048, 64, 1e-2",
        "BF16, STREAM_WIDE, 2048, 8192, 63, 1e-2",
        "BF16, STREAM_WIDE, 300, 1032, 5, 1e-2",
        "BF16, STREAM_WIDE, 100, 200, 1, 1e-2",
        "F16, STREAM_WIDE, 2000, 1544, 16, 2e-3",
        "F16, STREAM_WIDE, 17, 8, 64, 2e-3",
        // the same products from packed weights (pack_stream_weights, the _packed kernels)
        "BF16, STREAM_PACKED, 2048, 2048, 64, 1e-2",
        "BF16, STREAM_PACKED, 1000, 2056, 13, 1e-2",
        "F16, STREAM_PACKED, 17, 8, 5, 2e-3",
        "BF16, STREAM_WIDE_PACKED, 300, 1032, 64, 1e-2",
        "F16, STREAM_WIDE_PACKED, 2000, 1544, 1, 2e-3",
        "BF16, STREAM_TALL_PACKED, 8192, 2048, 64, 1e-2",
        "BF16, STREAM_TALL_PACKED, 300, 1032, 9, 1e-2",
        "F16, STREAM_TALL_PACKED, 17, 8, 64, 2e-3",
        // more than 64 tokens as 64-token slices of one launch (prefill), row-major and packed
        "BF16, STREAM_SLICES, 2048, 2048, 512, 1e-2",
        "BF16, STREAM_SLICES, 1000, 2056, 65, 1e-2",
        "F16, STREAM_SLICES, 130, 264, 200, 2e-3",
        "BF16, STREAM_PACKED_SLICES, 2048, 2048, 150, 1e-2",
        "F16, STREAM_PACKED_SLICES, 17, 8, 300, 2e-3",
        "BF16, STREAM_TALL_PACKED_SLICES, 2048, 2048, 200, 1e-2",
        "F16, STREAM_TALL_PACKED_SLICES, 300, 1032, 65, 2e-3",
        "BF16, MATVEC, 4016, 2048, 8, 1e-5",
        "F16, MATVEC, 33, 264, 1, 1e-5",
        "BF16, MATVEC, 50, 100, 2, 1e-5",
    })
    void productMatchesCpuMatrix(GgmlType type, DeviceMatrix.Kernel kernel, int rows, int cols, int n, double bound) {
        assertProductMatchesCpu(type, kernel, rows, cols, n, bound, false, rows * 31L + cols * 7L + n);
    }

    /**
     * A random rows x cols matrix of {@code type} (K-quants kept quantized on the device when {@code kQuants}) times n
     * random tokens through {@code kernel}: within {@code bound} (relative) of the CPU matrix's product.
     */
    private static void assertProductMatchesCpu(GgmlType type, DeviceMatrix.Kernel kernel, int rows, int cols, int n,
                                                double bound, boolean kQuants, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = randomWeights(rnd, rows, cols);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        byte[] raw = Quantizer.quantize(type, w);
        Matrix cpu = Matrix.of(type, ByteBuffer.wrap(raw), rows, cols, "w");
        float[] expected = new float[n * rows];
        cpu.matmul(x, expected, n);

        try (DeviceMatrix dm = DeviceMatrix.upload(cpu, ByteBuffer.wrap(raw), false, kQuants);
             DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x");
             DeviceBuffer dy = DeviceBuffer.allocate(4L * expected.length, "y")) {
            assertEquals(DeviceMatrix.deviceType(type, false, kQuants), dm.type());
            assertEquals(DeviceMatrix.deviceBytes(type, false, kQuants, rows, cols), dm.bytes());
            dx.upload(x, x.length);
            dm.matmul(device.kernels(), dx, dy, n, kernel);
            float[] got = new float[expected.length];
            dy.download(got, got.length);
            double err = CudaTestDevice.relativeError(got, expected, got.length);
            assertTrue(err <= bound, type + " " + kernel + ": relative error " + err + " > " + bound);
        }
    }

    /**
     * Q4_K and Q6_K matrices kept as the CPU's planes (DeviceMatrix.upload with kQuants): matvec for up to 8 tokens,
     * the tiled product beyond, rows off the 8-row and 64-row blocks; the weights decode to the CPU's bits, so the
     * products agree to float summation order.
     */
    @ParameterizedTest(name = "{0} {1} {2}x{3} n={4}")
    @CsvSource({
        "Q4_K, MATVEC, 100, 512, 1",
        "Q4_K, MATVEC, 33, 256, 8",
        "Q4_K, TILED, 130, 512, 70",
        "Q6_K, MATVEC, 100, 512, 3",
        "Q6_K, TILED, 65, 256, 9",
    })
    void kQuantPlanesProductsMatchTheCpuMatrix(GgmlType type, DeviceMatrix.Kernel kernel, int rows, int cols, int n) {
        assertProductMatchesCpu(type, kernel, rows, cols, n, 1e-5, true, rows * 13L + cols + n);
        assertEquals(type, DeviceMatrix.deviceType(type, false, true)); // kept, not decoded
    }

    /**
     * Q4_K and Q6_K kept as the CPU's planes on tensor cores (matmul_stream_q4_k: nibbles widened to F16, scale and min
     * per 32 applied in float, the activations' block sums from half_block_sums; matmul_stream_q6_k: each weight scaled
     * and rounded to F16 before the mma): 1, 9, 64 tokens with one split and several, and 130 tokens as slices, against
     * the CPU matrix; the activations (and Q6_K's weights) go through F16, the CPU keeps them in float.
     */
    @ParameterizedTest(name = "{0} on tensor cores {1}x{2} n={3}")
    @CsvSource({"Q4_K, 100, 512, 1", "Q4_K, 130, 512, 9", "Q4_K, 2048, 2048, 64", "Q4_K, 200, 8192, 40", "Q4_K, 136, 256, 130",
        "Q6_K, 130, 512, 9", "Q6_K, 2048, 2048, 64", "Q6_K, 136, 256, 130"})
    void kQuantPlanesOnTensorCoresMatchTheCpuMatrix(GgmlType type, int rows, int cols, int n) {
        assertProductMatchesCpu(type, DeviceMatrix.Kernel.STREAM_QUANT, rows, cols, n, 5e-3, true, rows * 17L + cols + n);
    }

    @ParameterizedTest(name = "{0} n={1}")
    @CsvSource({"BF16, 1", "BF16, 8", "F16, 3"})
    void threeProductsInOneLaunchMatchTheCpuMatrices(GgmlType type, int n) {
        int cols = 264;
        int[] rows = {96, 40, 33};
        SplittableRandom rnd = new SplittableRandom(17L + n);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        Matrix[] cpu = new Matrix[3];
        byte[][] raw = new byte[3][];
        float[][] expected = new float[3][];
        for (int m = 0; m < 3; m++) {
            float[] w = randomWeights(rnd, rows[m], cols);
            raw[m] = Quantizer.quantize(type, w);
            cpu[m] = Matrix.of(type, ByteBuffer.wrap(raw[m]), rows[m], cols, "w" + m);
            expected[m] = new float[n * rows[m]];
            cpu[m].matmul(x, expected[m], n);
        }
        try (DeviceMatrix a = DeviceMatrix.upload(cpu[0], ByteBuffer.wrap(raw[0]), false);
             DeviceMatrix b = DeviceMatrix.upload(cpu[1], ByteBuffer.wrap(raw[1]), false);
             DeviceMatrix c = DeviceMatrix.upload(cpu[2], ByteBuffer.wrap(raw[2]), false);
             DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x");
             DeviceBuffer ya = DeviceBuffer.allocate(4L * expected[0].length, "ya");
             DeviceBuffer yb = DeviceBuffer.allocate(4L * expected[1].length, "yb");
             DeviceBuffer yc = DeviceBuffer.allocate(4L * expected[2].length, "yc")) {
            dx.upload(x, x.length);
            DeviceMatrix.matmul3(device.kernels(), a, b, c, dx, ya, yb, yc, n, null);
            DeviceBuffer[] ys = {ya, yb, yc};
            for (int m = 0; m < 3; m++) {
                float[] got = new float[expected[m].length];
                ys[m].download(got, got.length);
                double err = CudaTestDevice.relativeError(got, expected[m], got.length);
                assertTrue(err <= 1e-5, type + " product " + m + " of 3: relative error " + err + " > 1e-5");
            }
        }
    }

    /**
     * matmul_skinny_group (+ splitk_reduce_group, or splitk_reduce_swiglu for gate/up) against the CPU matrices:
     * Q/K/V-like groups of three (rows 64..2048, different split counts) and gate/up pairs whose SwiGLU is
     * computed here in double from the CPU products.
     */
    @ParameterizedTest(name = "{0} rows={1},{2},{3} cols={4} n={5} swiglu={6} deep split={8} kernel={9}")
    @CsvSource({
        "BF16, 2048, 512, 512, 2048, 64, false, 1e-2, false, pipe",
        "BF16, 128, 64, 64, 256, 9, false, 1e-2, false, pipe",
        "F16, 96, 48, 32, 176, 33, false, 2e-3, false, pipe",
        "BF16, 8192, 8192, 0, 2048, 40, true, 1e-2, false, pipe",
        "BF16, 176, 176, 0, 64, 17, true, 1e-2, false, pipe",
        "F16, 96, 96, 0, 208, 64, true, 2e-3, false, pipe",
        "BF16, 2048, 512, 512, 2048, 64, false, 1e-2, true, pipe",
        "BF16, 128, 64, 64, 384, 9, false, 1e-2, true, pipe",
        "BF16, 8192, 8192, 0, 2048, 40, true, 1e-2, true, pipe",
        "F16, 96, 96, 0, 400, 64, true, 2e-3, true, pipe",
        "BF16, 2048, 512, 512, 2048, 64, false, 1e-2, false, stream",
        "BF16, 2048, 512, 512, 2048, 13, false, 1e-2, false, stream",
        "BF16, 128, 64, 64, 256, 9, false, 1e-2, false, stream",
        "F16, 96, 48, 32, 176, 33, false, 2e-3, false, stream",
        "BF16, 8192, 8192, 0, 2048, 64, true, 1e-2, false, stream",
        "BF16, 8192, 8192, 0, 2048, 40, true, 1e-2, false, stream",
        "F16, 96, 96, 0, 400, 63, true, 2e-3, false, stream",
        "BF16, 176, 176, 0, 64, 17, true, 1e-2, false, stream",
        "BF16, 2048, 512, 512, 2048, 64, false, 1e-2, false, wide",
        "BF16, 8192, 8192, 0, 2048, 40, true, 1e-2, false, wide",
        "F16, 96, 48, 32, 176, 9, false, 2e-3, false, wide",
    })
    void groupedSkinnyProductsMatchTheCpuMatrices(GgmlType type, int rows0, int rows1, int rows2, int cols, int n,
                                                  boolean swiglu, double bound, boolean deep, String kernel) {
        int[] rows = rows2 == 0 ? new int[] {rows0, rows1} : new int[] {rows0, rows1, rows2};
        int count = rows.length;
        SplittableRandom rnd = new SplittableRandom(rows0 * 13L + cols + n);
        float[] x = randomActivations(rnd, n, cols);
        Matrix[] cpu = new Matrix[count];
        byte[][] raw = new byte[count][];
        float[][] expected = new float[count][];
        for (int m = 0; m < count; m++) {
            float[] w = randomWeights(rnd, rows[m], cols);
            raw[m] = Quantizer.quantize(type, w);
            cpu[m] = Matrix.of(type, ByteBuffer.wrap(raw[m]), rows[m], cols, "w" + m);
            expected[m] = new float[n * rows[m]];
            cpu[m].matmul(x, expected[m], n);
        }
        if (swiglu) {
            for (int i = 0; i < expected[0].length; i++) {
                double g = expected[0][i];
                expected[0][i] = (float) (g / (1 + Math.exp(-g)) * expected[1][i]);
            }
        }
        DeviceMatrix[] dms = new DeviceMatrix[count];
        DeviceBuffer[] ys = new DeviceBuffer[count];
        long partial = 0;
        try (DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x")) {
            for (int m = 0; m < count; m++) {
                dms[m] = DeviceMatrix.upload(cpu[m], ByteBuffer.wrap(raw[m]), false);
                ys[m] = DeviceBuffer.allocate(4L * expected[m].length, "y" + m);
                partial += SkinnyScratch.partialFloats(rows[m], cols);
            }
            dx.upload(x, x.length);
            try (SkinnyScratch scratch = new SkinnyScratch(cols, partial)) {
                scratch.kernels.deepSplit = deep;
                scratch.kernels.streaming = !kernel.equals("pipe"); // pipe: matmul_skinny_group (the pipelined block code)
                scratch.kernels.streamWide = kernel.equals("wide");
                DeviceMatrix.skinnyGroup(device.kernels(), dms, dx, ys, n, scratch, swiglu);
                jcuda.driver.JCudaDriver.cuCtxSynchronize();
            }
            for (int m = 0; m < (swiglu ? 1 : count); m++) {
                float[] got = new float[expected[m].length];
                ys[m].download(got, got.length);
                double err = CudaTestDevice.relativeError(got, expected[m], got.length);
                assertTrue(err <= bound, type + (swiglu ? " silu(gate) * up" : " product " + m + " of " + count)
                        + ": relative error " + err + " > " + bound);
            }
        } finally {
            closeAll(dms, ys);
        }
    }

    /**
     * Packed weights (DeviceMatrix.packForStream, the _packed kernels of stream.cu) give bit for bit the products of
     * the row-major weights: the lanes load the same values into the same registers; and so do the 32-row warps on
     * them (_tall_packed: each output adds the same k in the same order). Single products with one split and several
     * (default and deep split, rows and cols off the tile sizes, 8- and 16-warp split policies) and grouped ones
     * (Q/K/V-like, gate/up with SwiGLU), each also against the CPU matrices.
     */
    @ParameterizedTest(name = "{0} rows={1},{2},{3} cols={4} n={5} wide={6} deep={7}")
    @CsvSource({
        "BF16, 2048, 0, 0, 2048, 64, false, false",
        "BF16, 2048, 0, 0, 2048, 64, false, true",
        "BF16, 4016, 0, 0, 2048, 64, false, false",
        "BF16, 1000, 0, 0, 2056, 7, false, false",
        "F16, 17, 0, 0, 8, 64, false, false",
        "F16, 300, 0, 0, 1032, 33, true, false",
        "BF16, 2048, 2048, 0, 8192, 64, true, true",
        "BF16, 2048, 512, 512, 2048, 64, false, false",
        "BF16, 2048, 512, 512, 2048, 13, false, true",
        "F16, 96, 48, 32, 176, 33, true, false",
        "BF16, 8192, 8192, 0, 2048, 40, false, false",
    })
    void packedWeightsGiveTheBitsOfRowMajor(GgmlType type, int rows0, int rows1, int rows2, int cols, int n, boolean wide,
                                            boolean deep) {
        int[] rows = rows1 == 0 ? new int[] {rows0} : rows2 == 0 ? new int[] {rows0, rows1} : new int[] {rows0, rows1, rows2};
        int count = rows.length;
        boolean swiglu = count == 2; // gate/up: the reduction applies SwiGLU
        SplittableRandom rnd = new SplittableRandom(rows0 * 17L + cols * 3L + n);
        float[] x = randomActivations(rnd, n, cols);
        Matrix[] cpu = new Matrix[count];
        byte[][] raw = new byte[count][];
        DeviceMatrix[] dms = new DeviceMatrix[count];
        DeviceBuffer[] ys = new DeviceBuffer[count];
        long partial = 0;
        try (DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x")) {
            for (int m = 0; m < count; m++) {
                float[] w = randomWeights(rnd, rows[m], cols);
                raw[m] = Quantizer.quantize(type, w);
                cpu[m] = Matrix.of(type, ByteBuffer.wrap(raw[m]), rows[m], cols, "w" + m);
                dms[m] = DeviceMatrix.upload(cpu[m], ByteBuffer.wrap(raw[m]), false);
                ys[m] = DeviceBuffer.allocate(4L * n * rows[m], "y" + m);
                partial += SkinnyScratch.partialFloats(rows[m], cols);
            }
            dx.upload(x, x.length);
            int[][][] bits = new int[3][count][];
            float[][] got = new float[count][];
            for (int v = 0; v < 3; v++) { // row-major, packed, packed with 32-row warps
                if (v == 1) {
                    for (DeviceMatrix dm : dms) {
                        assertTrue(dm.packForStream(device.kernels()) >= DeviceMatrix.packedBytes(dm.rows(), dm.cols()));
                    }
                }
                try (SkinnyScratch scratch = new SkinnyScratch(cols, partial)) {
                    scratch.kernels.streaming = true;
                    scratch.kernels.streamWide = wide;
                    scratch.kernels.deepSplit = deep;
                    scratch.kernels.packed = v >= 1;
                    scratch.kernels.streamTall = v == 2;
                    scratch.kernels.tallMinBlocks = 1; // the tall kernel on every shape here, however few its blocks
                    if (count == 1) {
                        dms[0].stream(device.kernels(), dx, ys[0], n, scratch);
                    } else {
                        DeviceMatrix.skinnyGroup(device.kernels(), dms, dx, ys, n, scratch, swiglu);
                    }
                    jcuda.driver.JCudaDriver.cuCtxSynchronize();
                }
                for (int m = 0; m < (swiglu ? 1 : count); m++) {
                    got[m] = new float[n * rows[m]];
                    ys[m].download(got[m], got[m].length);
                    bits[v][m] = new int[got[m].length];
                    for (int i = 0; i < got[m].length; i++) {
                        bits[v][m][i] = Float.floatToRawIntBits(got[m][i]);
                    }
                }
            }
            double bound = type == GgmlType.BF16 ? 1e-2 : 2e-3;
            for (int m = 0; m < (swiglu ? 1 : count); m++) {
                assertArrayEquals(bits[0][m], bits[1][m], "matrix " + m + ": packed weights changed the bits");
                assertArrayEquals(bits[0][m], bits[2][m], "matrix " + m + ": 32-row warps changed the bits");
                float[] expected = expectedOutput(cpu, x, n, m, swiglu);
                double err = CudaTestDevice.relativeError(got[m], expected, expected.length);
                assertTrue(err <= bound, "matrix " + m + ": relative error " + err + " > " + bound);
            }
        } finally {
            closeAll(dms, ys);
        }
    }

    /**
     * The packed streaming products from the sm_90a module (warpgroup MMAs, wgmma.cuh) on their own packing
     * (pack_stream_weights_wg) against the same products on mma.sync: every kernel flavour (128-row, 16-warp, 32-row
     * warps; alone, grouped, with SwiGLU, and as 64-token slices for prefill). Each k16 step sums other k than the
     * mma.sync kernels' step, so within 1e-5 of their result (max abs difference over max abs value; a wrong packing or
     * B layout is off by order 1), and within the precision's bound of the CPU. On a device that is not compute
     * capability 9.x the module must not be loaded.
     */
    /**
     * Programmatic launches (compute capability 9.x, a JVM with ProgrammaticLaunch.JVM_FLAGS, as check.sh starts it):
     * 32 splitk_reduce launches (the compute_90 twin, which waits for its predecessor) in a chain where each reads what
     * the one before wrote and overwrites what that one read: slot 0 of the other buffer = slot 0 + slot 1 (all ones)
     * of this one. A launch that started reading or writing before its predecessor finished would lose increments.
     */
    @Test
    void programmaticLaunchesKeepEachKernelAfterItsPredecessor() {
        CudaKernels k = device.kernels();
        if (!device.computeCapability().startsWith("9.")) {
            assertTrue(!k.programmaticAvailable(), device + ": programmatic launches are for compute capability 9.x here");
            return;
        }
        if (!k.programmaticAvailable()) {
            assertTrue(!ProgrammaticLaunch.jvmCapable(), device + ": " + k.programmaticStatus());
            String reason = "SKIPPED programmatic launches: " + k.programmaticStatus();
            System.out.println(reason);
            org.junit.jupiter.api.Assumptions.abort(reason);
        }
        assertTrue(k.programmaticKernels().contains("splitk_reduce"), "splitk_reduce's twin waits: " + k.programmaticKernels());
        int n = 64;
        int rows = 8192;
        int slot = n * rows;
        float[] start = new float[2 * slot];
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < slot; i++) {
            start[i] = rnd.nextInt(1000);
            start[slot + i] = 1;
        }
        float[] ones = new float[2 * slot];
        java.util.Arrays.fill(ones, 1f);
        int launches = 32;
        // on the legacy default stream (eager steps), then on a stream of its own (as CUDA graphs are captured)
        for (boolean ownStream : new boolean[] {false, true}) {
            jcuda.driver.CUstream s = null;
            try (DeviceBuffer a = DeviceBuffer.allocate(8L * slot, "a"); DeviceBuffer b = DeviceBuffer.allocate(8L * slot, "b")) {
                a.upload(start, start.length);
                b.upload(ones, ones.length);
                if (ownStream) {
                    s = new jcuda.driver.CUstream();
                    jcuda.driver.JCudaDriver.cuStreamCreate(s, 0);
                    k.stream(s);
                }
                long before = k.launched();
                k.useProgrammatic(true);
                try {
                    for (int i = 0; i < launches; i++) {
                        DeviceBuffer from = i % 2 == 0 ? a : b;
                        k.launch("splitk_reduce", 264, 1, 256, 0, from, i % 2 == 0 ? b : a, n, n, rows, 2);
                    }
                    if (s != null) {
                        jcuda.driver.JCudaDriver.cuStreamSynchronize(s);
                    }
                    device.synchronize();
                } finally {
                    k.useProgrammatic(false);
                    k.stream(null);
                }
                assertEquals(launches, k.launched() - before);
                float[] got = new float[slot];
                a.download(got, slot);
                for (int i = 0; i < slot; i++) {
                    assertEquals(start[i] + launches, got[i], (ownStream ? "own stream" : "legacy stream") + ": element " + i
                            + " after " + launches + " programmatic launches");
                }
            } finally {
                if (s != null) {
                    jcuda.driver.JCudaDriver.cuStreamDestroy(s);
                }
            }
        }
        System.out.println("programmatic launches: 2 x " + launches + " dependent launches kept their order"
                + (k.legacyStreamRefusal() == null ? "" : "; the legacy stream refused them: " + k.legacyStreamRefusal()));
    }

    @ParameterizedTest(name = "{0} rows={1},{2},{3} cols={4} n={5} wide={6} deep={7}")
    @CsvSource({
        "BF16, 2048, 0, 0, 2048, 64, false, false",
        "BF16, 2048, 0, 0, 2048, 64, true, true",
        "BF16, 1000, 0, 0, 2056, 7, false, false",
        "F16, 17, 0, 0, 8, 64, false, false",
        "F16, 300, 0, 0, 1032, 33, true, false",
        "BF16, 2048, 512, 512, 2048, 64, false, false",
        "BF16, 8192, 8192, 0, 2048, 64, false, false",
        "F16, 96, 48, 32, 176, 33, true, false",
        "BF16, 2048, 0, 0, 8192, 1, false, false",
        "BF16, 1000, 0, 0, 2056, 150, false, false",
        "F16, 4096, 0, 0, 1024, 512, false, false",
    })
    void warpgroupMmaProductsMatchMmaSync(GgmlType type, int rows0, int rows1, int rows2, int cols, int n, boolean wide,
                                          boolean deep) {
        CudaKernels k = device.kernels();
        if (!device.computeCapability().startsWith("9.")) {
            assertTrue(!k.wgmmaAvailable(), device + ": the sm_90a module loads on compute capability 9.x only");
            assertTrue(k.wgmmaStatus().contains("9.x"), k.wgmmaStatus());
            return;
        }
        assertTrue(k.wgmmaAvailable(), device + ": " + k.wgmmaStatus());
        int[] rows = rows1 == 0 ? new int[] {rows0} : rows2 == 0 ? new int[] {rows0, rows1} : new int[] {rows0, rows1, rows2};
        int count = rows.length;
        boolean swiglu = count == 2;
        SplittableRandom rnd = new SplittableRandom(rows0 * 31L + cols * 7L + n);
        float[] x = randomActivations(rnd, n, cols);
        Matrix[] cpu = new Matrix[count];
        DeviceMatrix[] dms = new DeviceMatrix[count];
        DeviceBuffer[] ys = new DeviceBuffer[count];
        long partial = 0;
        try (DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x")) {
            for (int m = 0; m < count; m++) {
                float[] w = randomWeights(rnd, rows[m], cols);
                byte[] raw = Quantizer.quantize(type, w);
                cpu[m] = Matrix.of(type, ByteBuffer.wrap(raw), rows[m], cols, "w" + m);
                dms[m] = DeviceMatrix.upload(cpu[m], ByteBuffer.wrap(raw), false);
                dms[m].packForStream(k);
                assertTrue(dms[m].packForWgmma(k) >= DeviceMatrix.packedBytes(rows[m], cols));
                ys[m] = DeviceBuffer.allocate(4L * n * rows[m], "y" + m);
                partial += SkinnyScratch.partialFloats(rows[m], cols);
            }
            dx.upload(x, x.length);
            int outs = swiglu ? 1 : count;
            float[][][] got = new float[4][outs][];
            for (int v = 0; v < 4; v++) { // 16- and 32-row warps on packed weights: on mma.sync (0, 1), on wgmma (2, 3)
                try (SkinnyScratch scratch = new SkinnyScratch(cols, partial)) {
                    scratch.kernels.streaming = true;
                    scratch.kernels.streamWide = wide;
                    scratch.kernels.deepSplit = deep;
                    scratch.kernels.packed = true;
                    scratch.kernels.wgmma = v >= 2;
                    scratch.kernels.streamTall = v % 2 == 1;
                    scratch.kernels.tallMinBlocks = 1;
                    scratch.kernels.slicedPrefill = true;
                    assertEquals(v >= 2, dms[0].readsWgmmaPacking(scratch));
                    if (n > SkinnyScratch.MAX_TOKENS) { // prefill: 64-token slices of one launch
                        dms[0].slices(k, dx, ys[0], n, scratch);
                    } else if (count == 1) {
                        dms[0].stream(k, dx, ys[0], n, scratch);
                    } else {
                        DeviceMatrix.skinnyGroup(k, dms, dx, ys, n, scratch, swiglu);
                    }
                    jcuda.driver.JCudaDriver.cuCtxSynchronize();
                }
                for (int m = 0; m < outs; m++) {
                    got[v][m] = new float[n * rows[m]];
                    ys[m].download(got[v][m], got[v][m].length);
                }
            }
            double bound = type == GgmlType.BF16 ? 1e-2 : 2e-3;
            for (int m = 0; m < outs; m++) {
                for (int v = 2; v < 4; v++) {
                    double worst = 0;
                    double scale = 0;
                    for (int i = 0; i < got[0][m].length; i++) {
                        worst = Math.max(worst, Math.abs((double) got[v][m][i] - got[v - 2][m][i]));
                        scale = Math.max(scale, Math.abs(got[v - 2][m][i]));
                    }
                    String way = v == 2 ? "16-row warps" : "32-row warps";
                    System.out.printf("wgmma %s matrix %d, %s: max difference %.3e of %.3e%n", type, m, way, worst, scale);
                    assertTrue(worst <= 1e-5 * scale, "matrix " + m + ", " + way + ": wgmma differs from mma.sync by " + worst
                            + " of " + scale);
                }
                float[] expected = expectedOutput(cpu, x, n, m, swiglu);
                double err = CudaTestDevice.relativeError(got[2][m], expected, expected.length);
                assertTrue(err <= bound, "matrix " + m + ": wgmma relative error " + err + " > " + bound);
            }
        } finally {
            closeAll(dms, ys);
        }
    }

    /**
     * The streaming products with their activations written by the producer (CudaLlamaModel's fused 16-bit
     * activations): the grouped gate/up product whose SwiGLU reduction also writes the padded 16-bit copy of its output
     * (splitk_reduce_swiglu_h_*), then the down product reading that copy instead of converting its input, and a grouped
     * product reading a copy written before it. Each must give bit for bit the results of the separate conversions;
     * the products with ready activations get an x of NaNs, so a product that still read x would fail.
     */
    @ParameterizedTest(name = "{0} gate/up {1} x {2}, down {2} x {1}, n={3}, wide={4}")
    @CsvSource({
        "BF16, 8192, 2048, 64, false",
        "BF16, 512, 256, 13, false",
        "F16, 176, 64, 9, false",
        "F16, 512, 256, 40, true",
    })
    void streamingProductsTakeTheirActivationsFromTheProducer(GgmlType type, int hidden, int dim, int n, boolean wide) {
        SplittableRandom rnd = new SplittableRandom(hidden * 3L + n);
        float[] x = new float[n * dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        float[] nans = new float[Math.max(n * dim, n * hidden)];
        java.util.Arrays.fill(nans, Float.NaN);
        int[][] shapes = {{hidden, dim}, {hidden, dim}, {dim, hidden}}; // gate, up, down
        DeviceMatrix[] dms = new DeviceMatrix[3];
        int npad = DeviceMatrix.streamPad(n);
        String suffix = type == GgmlType.BF16 ? "bf16" : "f16";
        CudaKernels k = device.kernels();
        try (DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x");
             DeviceBuffer garbage = DeviceBuffer.allocate(4L * nans.length, "NaN x");
             DeviceBuffer h1 = DeviceBuffer.allocate(4L * n * hidden, "silu(gate) * up, separate");
             DeviceBuffer h2 = DeviceBuffer.allocate(4L * n * hidden, "silu(gate) * up, fused");
             DeviceBuffer h3 = DeviceBuffer.allocate(4L * n * hidden, "silu(gate) * up, ready activations");
             DeviceBuffer d1 = DeviceBuffer.allocate(4L * n * dim, "down, separate");
             DeviceBuffer d2 = DeviceBuffer.allocate(4L * n * dim, "down, ready activations");
             DeviceBuffer halvesExpected = DeviceBuffer.allocate(2L * npad * hidden, "to_half_padded of hb")) {
            for (int m = 0; m < 3; m++) {
                float[] w = randomWeights(rnd, shapes[m][0], shapes[m][1]);
                byte[] raw = Quantizer.quantize(type, w);
                dms[m] = DeviceMatrix.upload(Matrix.of(type, ByteBuffer.wrap(raw), shapes[m][0], shapes[m][1], "w" + m),
                        ByteBuffer.wrap(raw), false);
            }
            dx.upload(x, x.length);
            garbage.upload(nans, nans.length);
            DeviceMatrix[] gateUp = {dms[0], dms[1]};
            long partial = Math.max(DeviceMatrix.groupPartialFloats(gateUp), SkinnyScratch.partialFloats(dim, hidden));
            try (SkinnyScratch s = new SkinnyScratch(hidden, partial)) {
                s.kernels.streaming = true;
                s.kernels.streamWide = wide;
                // separate: x converted by the group, hb converted by the down product
                DeviceMatrix.skinnyGroup(k, gateUp, dx, new DeviceBuffer[] {h1, null}, n, s, true);
                dms[2].matmul(k, h1, d1, n, s);
                // fused: the SwiGLU reduction writes hb's 16-bit copy, the down product reads it (x is NaN)
                DeviceMatrix.skinnyGroup(k, gateUp, dx, new DeviceBuffer[] {h2, null}, n, s, true, false, true);
                k.launch("to_half_padded_" + suffix, Math.min(65535, (npad * hidden + 255) / 256), 1, 256, 0, h2,
                        halvesExpected, n, npad, hidden);
                device.synchronize();
                short[] written = new short[npad * hidden];
                short[] expected = new short[npad * hidden];
                s.halves.download(written, written.length);
                halvesExpected.download(expected, expected.length);
                assertArrayEquals(expected, written, "splitk_reduce_swiglu_h: the 16-bit copy of its output");
                assertTrue(dms[2].readsHalves(n, s));
                dms[2].matmul(k, garbage, d2, n, s, true);
                // a grouped product reading x's copy written before it (as the norms' _h kernels leave it)
                k.launch("to_half_padded_" + suffix, Math.min(65535, (npad * dim + 255) / 256), 1, 256, 0, dx, s.halves, n,
                        npad, dim);
                DeviceMatrix.skinnyGroup(k, gateUp, garbage, new DeviceBuffer[] {h3, null}, n, s, true, true, false);
                device.synchronize();
            }
            float[][] hb = new float[3][n * hidden];
            h1.download(hb[0], hb[0].length);
            h2.download(hb[1], hb[1].length);
            h3.download(hb[2], hb[2].length);
            float[][] down = new float[2][n * dim];
            d1.download(down[0], down[0].length);
            d2.download(down[1], down[1].length);
            assertArrayEquals(hb[0], hb[1], "silu(gate) * up with the 16-bit copy written");
            assertArrayEquals(hb[0], hb[2], "silu(gate) * up from ready activations");
            assertArrayEquals(down[0], down[1], "down from the copy the reduction wrote");
            for (float v : down[1]) {
                assertTrue(Float.isFinite(v), "down product read its NaN x");
            }
        } finally {
            for (DeviceMatrix m : dms) {
                if (m != null) {
                    m.close();
                }
            }
        }
    }

    /**
     * A single product (Wo, down) adding its own split-K sums into the residual stream (GroupEpilogue.residual) against
     * the product, its reduction and add_inplace: bit for bit on the 128-row, 16-warp, packed and 32-row-warp kernels,
     * and on the warpgroup MMAs where the device has them (against their own separate way); the reducing launch is
     * repeated three times from the same residual (the arrival counters must come back to zero).
     */
    @ParameterizedTest(name = "{0} {1} x {2}, n={3}")
    @CsvSource({
        "BF16, 2048, 2048, 64", // Llama-3.2-1B's Wo
        "BF16, 2048, 8192, 64", // and down
        "F16, 512, 1408, 40",
        "BF16, 256, 512, 13",
    })
    void productsReduceIntoTheResidualBitForBit(GgmlType type, int rows, int cols, int n) {
        SplittableRandom rnd = new SplittableRandom(rows * 3L + cols + n);
        CudaKernels k = device.kernels();
        float[] w = randomWeights(rnd, rows, cols);
        byte[] raw = Quantizer.quantize(type, w);
        float[] x = randomActivations(rnd, n, cols);
        float[] resid = randomActivations(rnd, n, rows);
        List<DeviceBuffer> buffers = new ArrayList<>();
        try (DeviceMatrix dm = DeviceMatrix.upload(Matrix.of(type, ByteBuffer.wrap(raw), rows, cols, "w"), ByteBuffer.wrap(raw), false)) {
            dm.packForStream(k);
            boolean wg = k.wgmmaAvailable();
            if (wg) {
                dm.packForWgmma(k);
            }
            DeviceBuffer dx = track(buffers, DeviceBuffer.allocate(4L * x.length, "x"));
            dx.upload(x, x.length);
            DeviceBuffer xr = track(buffers, DeviceBuffer.allocate(4L * resid.length, "residual"));
            DeviceBuffer y = track(buffers, DeviceBuffer.allocate(4L * resid.length, "product"));
            String[][] flavours = {{"128-row", "false", "false", "false", "false"}, {"16-warp", "true", "false", "false", "false"},
                    {"packed", "false", "true", "false", "false"}, {"32-row warps", "false", "true", "true", "false"},
                    {"wgmma", "false", "true", "false", "true"}, {"wgmma 32-row warps", "false", "true", "true", "true"}};
            for (String[] f : flavours) {
                if (Boolean.parseBoolean(f[4]) && !wg) {
                    continue; // (the warpgroup MMAs: compute capability 9.x only, checked by warpgroupMmaProductsMatchMmaSync)
                }
                try (SkinnyScratch s = new SkinnyScratch(cols, DeviceMatrix.groupPartialFloats(dm), (rows + 127) / 128)) {
                    s.kernels.streaming = true;
                    s.kernels.streamWide = Boolean.parseBoolean(f[1]);
                    s.kernels.packed = Boolean.parseBoolean(f[2]);
                    s.kernels.streamTall = Boolean.parseBoolean(f[3]);
                    s.kernels.wgmma = Boolean.parseBoolean(f[4]);
                    s.kernels.tallMinBlocks = 1;
                    float[] expected = new float[resid.length];
                    xr.upload(resid, resid.length);
                    dm.matmul(k, dx, y, n, s);
                    k.launch("add_inplace", (resid.length + 255) / 256, 1, 256, 0, xr, y, resid.length);
                    xr.download(expected, expected.length);
                    for (int rep = 0; rep < 3; rep++) {
                        xr.upload(resid, resid.length);
                        s.partial.poison();
                        DeviceMatrix.skinnyGroupReduced(k, new DeviceMatrix[] {dm}, dx, n, s, false, s.halves, GroupEpilogue.residual(xr));
                        float[] got = new float[resid.length];
                        xr.download(got, got.length);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]),
                                    f[0] + ", launch " + (rep + 1) + ": x[" + i + "]");
                        }
                        int[] counters = new int[(rows + 127) / 128];
                        s.counters.download(counters, counters.length);
                        assertArrayEquals(new int[counters.length], counters, f[0] + ": arrival counters back at zero");
                    }
                }
            }
        } finally {
            for (DeviceBuffer b : buffers) {
                b.close();
            }
        }
    }

    /**
     * The grouped streaming products that reduce their own partial sums (GroupEpilogue: the last block of each row
     * block reduces it) against the same products followed by the reduction kernels: gate/up with SwiGLU and the 16-bit
     * copy for down (written while the product still reads its own activations, from the staged copy), Q/K/V with biases,
     * RoPE and the KV write into F16 and F32 caches; 128-row, 16-warp, packed and 32-row-warp kernels. Bit for bit,
     * every output poisoned before, and the same launch replayed three times (the arrival counters must come back to
     * zero, or the second launch would reduce early).
     */
    @ParameterizedTest(name = "{0}, dim {1}, hidden {2}, {3}/{4} heads of {5}, n={6}, biases {7}, NeoX {8}")
    @CsvSource({
        "BF16, 2048, 8192, 32, 8, 64, 64, false, false",  // Llama-3.2-1B
        "BF16, 256, 512, 4, 2, 64, 13, true, true",
        "F16, 512, 1408, 4, 2, 128, 40, true, false",
    })
    void groupedProductsReduceTheirOwnSumsBitForBit(GgmlType type, int dim, int hidden, int nHeads, int nKvHeads, int headDim,
                                                   int n, boolean biases, boolean neox) {
        SplittableRandom rnd = new SplittableRandom(dim * 5L + hidden + n);
        int qDim = nHeads * headDim;
        int kvDim = nKvHeads * headDim;
        int[][] shapes = {{qDim, dim}, {kvDim, dim}, {kvDim, dim}, {hidden, dim}, {hidden, dim}};
        DeviceMatrix[] dms = new DeviceMatrix[shapes.length];
        CudaKernels k = device.kernels();
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            for (int m = 0; m < shapes.length; m++) {
                float[] w = randomWeights(rnd, shapes[m][0], shapes[m][1]);
                byte[] raw = Quantizer.quantize(type, w);
                dms[m] = DeviceMatrix.upload(Matrix.of(type, ByteBuffer.wrap(raw), shapes[m][0], shapes[m][1], "w" + m),
                        ByteBuffer.wrap(raw), false);
                dms[m].packForStream(k);
            }
            float[] x = new float[n * dim];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextDouble(-2, 2);
            }
            DeviceBuffer dx = track(buffers, DeviceBuffer.allocate(4L * x.length, "x"));
            dx.upload(x, x.length);
            int[] meta = new int[2 * n]; // positions | slots
            for (int t = 0; t < n; t++) {
                meta[t] = t == 0 ? 0 : rnd.nextInt(8192);
                meta[n + t] = (t * 7 + 3) % n;
            }
            DeviceBuffer md = track(buffers, DeviceBuffer.allocate(4L * meta.length, "positions | slots"));
            md.upload(meta, meta.length);
            float[] invFreq = ropeTable(headDim, headDim, 1f);
            DeviceBuffer fd = track(buffers, DeviceBuffer.allocate(4L * invFreq.length, "inverse frequencies"));
            fd.upload(invFreq, invFreq.length);
            DeviceBuffer[] bias = new DeviceBuffer[3];
            for (int j = 0; j < 3; j++) {
                float[] b = new float[j == 0 ? qDim : kvDim];
                for (int i = 0; i < b.length; i++) {
                    b[i] = (float) rnd.nextDouble(-1, 1);
                }
                bias[j] = track(buffers, DeviceBuffer.allocate(4L * b.length, "bias " + j));
                bias[j].upload(b, b.length);
            }
            DeviceBuffer q = track(buffers, DeviceBuffer.allocate(4L * n * qDim, "q"));
            DeviceBuffer kk = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "k"));
            DeviceBuffer v = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "v"));
            DeviceBuffer keys = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "keys"));
            DeviceBuffer values = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "values"));
            DeviceBuffer hb = track(buffers, DeviceBuffer.allocate(4L * n * hidden, "silu(gate) * up"));
            DeviceMatrix[] qkv = {dms[0], dms[1], dms[2]};
            DeviceMatrix[] gateUp = {dms[3], dms[4]};
            long partial = Math.max(DeviceMatrix.groupPartialFloats(qkv), DeviceMatrix.groupPartialFloats(gateUp));
            int groupBlocks = Math.max((qDim + 127) / 128 + 2 * ((kvDim + 127) / 128), 2 * ((hidden + 127) / 128));
            String[][] flavours = {{"128-row", "false", "false", "false"}, {"16-warp", "true", "false", "false"},
                    {"packed", "false", "true", "false"}, {"32-row warps", "false", "true", "true"}};
            for (String[] f : flavours) {
                try (SkinnyScratch s = new SkinnyScratch(Math.max(dim, hidden), partial, groupBlocks)) {
                    s.kernels.streaming = true;
                    s.kernels.streamWide = Boolean.parseBoolean(f[1]);
                    s.kernels.packed = Boolean.parseBoolean(f[2]);
                    s.kernels.streamTall = Boolean.parseBoolean(f[3]);
                    s.kernels.tallMinBlocks = 1;
                    DeviceBuffer[] outs = {q, kk, v, keys, values, hb, s.halves};
                    int npad = DeviceMatrix.groupPad(n, s);
                    int[] words = {n * qDim, n * kvDim, n * kvDim, 0, 0, n * hidden, npad * hidden / 2};
                    for (boolean f16 : new boolean[] {true, false}) {
                        words[3] = words[4] = f16 ? n * kvDim / 2 : n * kvDim;
                        int[][][] got = new int[2][outs.length][];
                        for (int way = 0; way < 2; way++) {
                            for (int rep = 0; rep < (way == 1 ? 3 : 1); rep++) {
                                for (DeviceBuffer o : outs) {
                                    o.poison();
                                }
                                if (way == 0) {
                                    int[] splits = DeviceMatrix.skinnyGroupPartials(k, qkv, dx, n, s, false);
                                    int pairs = (nHeads + 2 * nKvHeads) * headDim / 2;
                                    k.launch("splitk_reduce_rope_kv_" + (f16 ? "f16" : "f32"), n, (pairs + 255) / 256, 256, 0,
                                            s.partial, q, kk, v, biases ? bias[0] : null, biases ? bias[1] : null,
                                            biases ? bias[2] : null, md, fd, md.at(4L * n), keys, values, npad, nHeads,
                                            nKvHeads, headDim, neox ? headDim / 2 : 0, splits[0], splits[1], splits[2]);
                                    DeviceMatrix.skinnyGroup(k, gateUp, dx, new DeviceBuffer[] {hb, null}, n, s, true, false,
                                            true);
                                } else {
                                    DeviceMatrix.skinnyGroupReduced(k, qkv, dx, n, s, false, s.halves,
                                            GroupEpilogue.ropeKv(q, kk, v, biases ? bias[0] : null, biases ? bias[1] : null,
                                                    biases ? bias[2] : null, md, fd, md.at(4L * n), keys, values, f16, headDim,
                                                    neox ? headDim / 2 : 0));
                                    DeviceMatrix.skinnyGroupReduced(k, gateUp, dx, n, s, false, s.stagedHalves,
                                            GroupEpilogue.swiglu(hb, s.halves));
                                }
                            }
                            device.synchronize();
                            for (int o = 0; o < outs.length; o++) {
                                got[way][o] = new int[words[o]];
                                outs[o].download(got[way][o], words[o]);
                            }
                        }
                        String[] names = {"q", "k", "v", "cached keys", "cached values", "silu(gate) * up",
                                "down's 16-bit activations"};
                        for (int o = 0; o < outs.length; o++) {
                            assertArrayEquals(got[0][o], got[1][o], f[0] + ", " + (f16 ? "F16" : "F32") + " KV: " + names[o]);
                        }
                        int[] counters = new int[groupBlocks];
                        s.counters.download(counters, counters.length);
                        assertArrayEquals(new int[groupBlocks], counters, "the arrival counters are back at zero");
                    }
                }
            }
        } finally {
            for (DeviceMatrix m : dms) {
                if (m != null) {
                    m.close();
                }
            }
            for (DeviceBuffer b : buffers) {
                b.close();
            }
        }
    }

    /**
     * The device's RoPE table for a head of {@code headDim} (RopeFrequencies' layout): (inverse frequency, magnitude) per
     * pair, base 10000 over the first {@code rotated} dimensions, frequency 0 and magnitude 1 past them.
     */
    private static float[] ropeTable(int headDim, int rotated, float magnitude) {
        float[] table = new float[headDim];
        for (int i = 0; i < headDim / 2; i++) {
            boolean turns = i < rotated / 2;
            table[2 * i] = turns ? (float) Math.pow(10000.0, -2.0 * i / rotated) : 0f;
            table[2 * i + 1] = turns ? magnitude : 1f;
        }
        return table;
    }

    /**
     * splitk_reduce_rope_kv (the grouped Q/K/V product's reduction with the biases, RoPE and the KV write) is bit for
     * bit splitk_reduce_group, add_bias and rope_kv_store: q, k (rotated), v, and the cache rows at shuffled slots,
     * for normal and NeoX pairs, F16 and F32 caches, head sizes 8 to 256 and split counts 1 to 5; with RoPE over part of
     * each head and LongRoPE's magnitude on cos and sin (Phi-4-mini: 96 of 128 dimensions).
     */
    @ParameterizedTest(name = "{0} KV, head {1}, {2}/{3} heads, n={4} (padded {5}), splits {6},{7},{8}, NeoX {9}, biases {10}, "
            + "{11} rotated, magnitude {12}")
    @CsvSource({
        "F16, 64, 32, 8, 64, 64, 4, 2, 2, false, false, 64, 1",  // Llama-3.2-1B
        "F32, 64, 32, 8, 13, 16, 1, 1, 1, false, false, 64, 1",
        "F16, 128, 14, 2, 9, 16, 3, 5, 1, true, true, 128, 1",    // Qwen2: NeoX, biases
        "F32, 8, 4, 2, 33, 40, 2, 3, 4, true, false, 8, 1",
        "F16, 256, 4, 1, 17, 24, 5, 1, 2, false, true, 256, 1",
        "F16, 128, 8, 2, 9, 16, 3, 2, 1, true, false, 96, 1.19",  // Phi-4-mini: 96 of 128 turn, LongRoPE's magnitude
        "F32, 16, 4, 4, 9, 16, 1, 2, 1, false, true, 12, 1.19",    // adjacent pairs, 12 of 16
    })
    void reductionWithRopeAndKvWriteIsTheSeparateKernels(String precision, int headDim, int nHeads, int nKvHeads, int n,
                                                         int npad, int s0, int s1, int s2, boolean neox, boolean biases,
                                                         int rotated, float magnitude) {
        SplittableRandom rnd = new SplittableRandom(headDim * 7L + n + s0);
        int qDim = nHeads * headDim;
        int kvDim = nKvHeads * headDim;
        boolean f16 = precision.equals("F16");
        float[] part = new float[(s0 * qDim + (s1 + s2) * kvDim) * npad];
        for (int i = 0; i < part.length; i++) {
            part[i] = (float) rnd.nextDouble(-2, 2);
        }
        float[][] bias = {new float[qDim], new float[kvDim], new float[kvDim]};
        for (float[] b : bias) {
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) rnd.nextDouble(-1, 1);
            }
        }
        int[] meta = new int[2 * n]; // positions | slots
        for (int t = 0; t < n; t++) {
            meta[t] = t == 0 ? 0 : rnd.nextInt(8192);
            meta[n + t] = (t * 7 + 3) % n; // a permutation when gcd(7, n) = 1
        }
        java.util.Set<Integer> distinct = new java.util.HashSet<>();
        for (int t = 0; t < n; t++) {
            distinct.add(meta[n + t]);
        }
        assertTrue(distinct.size() == n, "the slots must be a permutation");
        float[] invFreq = ropeTable(headDim, rotated, magnitude);
        int layout = neox ? rotated / 2 : 0;
        CudaKernels k = device.kernels();
        long cacheBytes = (f16 ? 2L : 4L) * n * kvDim;
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            DeviceBuffer pd = track(buffers, DeviceBuffer.allocate(4L * part.length, "partial sums"));
            pd.upload(part, part.length);
            DeviceBuffer md = track(buffers, DeviceBuffer.allocate(4L * meta.length, "positions | slots"));
            md.upload(meta, meta.length);
            DeviceBuffer fd = track(buffers, DeviceBuffer.allocate(4L * invFreq.length, "inverse frequencies"));
            fd.upload(invFreq, invFreq.length);
            DeviceBuffer[] bd = new DeviceBuffer[3];
            for (int j = 0; j < 3; j++) {
                bd[j] = track(buffers, DeviceBuffer.allocate(4L * bias[j].length, "bias " + j));
                bd[j].upload(bias[j], bias[j].length);
            }
            DeviceBuffer[][] out = new DeviceBuffer[2][5]; // q, k, v, keys, values: separate, fused
            for (int v = 0; v < 2; v++) {
                out[v][0] = track(buffers, DeviceBuffer.allocate(4L * n * qDim, "q"));
                out[v][1] = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "k"));
                out[v][2] = track(buffers, DeviceBuffer.allocate(4L * n * kvDim, "v"));
                out[v][3] = track(buffers, DeviceBuffer.allocate(cacheBytes, "keys"));
                out[v][4] = track(buffers, DeviceBuffer.allocate(cacheBytes, "values"));
            }
            int outs = n * (qDim + 2 * kvDim);
            k.launch("splitk_reduce_group", Math.min(65535, (outs + 255) / 256), 1, 256, 0, pd, out[0][0], out[0][1], out[0][2],
                    n, npad, qDim, kvDim, kvDim, s0, s1, s2);
            if (biases) {
                k.launch("add_bias", (n * qDim + 255) / 256, 1, 256, 0, out[0][0], bd[0], n, qDim);
                k.launch("add_bias", (n * kvDim + 255) / 256, 1, 256, 0, out[0][1], bd[1], n, kvDim);
                k.launch("add_bias", (n * kvDim + 255) / 256, 1, 256, 0, out[0][2], bd[2], n, kvDim);
            }
            k.launch("rope_kv_store_" + (f16 ? "f16" : "f32"), n, 1, 256, 0, out[0][0], out[0][1], out[0][2], md, fd, nHeads,
                    nKvHeads, headDim, layout, md.at(4L * n), out[0][3], out[0][4]);
            int pairs = (nHeads + 2 * nKvHeads) * headDim / 2;
            k.launch("splitk_reduce_rope_kv_" + (f16 ? "f16" : "f32"), n, (pairs + 255) / 256, 256, 0, pd, out[1][0], out[1][1],
                    out[1][2], biases ? bd[0] : null, biases ? bd[1] : null, biases ? bd[2] : null, md, fd, md.at(4L * n),
                    out[1][3], out[1][4], npad, nHeads, nKvHeads, headDim, layout, s0, s1, s2);
            device.synchronize();
            String[] names = {"q", "k", "v", "cached keys", "cached values"};
            for (int o = 0; o < 5; o++) {
                int ints = (int) (out[0][o].bytes() / 4);
                int[] a = new int[ints];
                int[] b = new int[ints];
                out[0][o].download(a, ints);
                out[1][o].download(b, ints);
                assertArrayEquals(a, b, names[o] + ": the bits of the separate kernels");
            }
            // and q of the last token against a float64 rotation of its sum, so both ways are not wrong alike: the pairs
            // past the rotated width as summed
            float[] got = new float[n * qDim];
            out[1][0].download(got, got.length);
            int t = n - 1;
            for (int h = 0; h < nHeads; h++) {
                for (int i = 0; i < headDim / 2; i++) {
                    boolean turns = i < rotated / 2;
                    int a = h * headDim + (neox && turns ? i : 2 * i);
                    int b = h * headDim + (neox && turns ? i + rotated / 2 : 2 * i + 1);
                    double x0 = (biases ? bias[0][a] : 0);
                    double x1 = (biases ? bias[0][b] : 0);
                    for (int sp = 0; sp < s0; sp++) {
                        x0 += part[(sp * npad + t) * qDim + a];
                        x1 += part[(sp * npad + t) * qDim + b];
                    }
                    double angle = turns ? (double) ((float) meta[t] * (float) Math.pow(10000.0, -2.0 * i / rotated)) : 0;
                    double m = turns ? magnitude : 1;
                    double y0 = m * (x0 * Math.cos(angle) - x1 * Math.sin(angle));
                    double y1 = m * (x0 * Math.sin(angle) + x1 * Math.cos(angle));
                    assertTrue(Math.abs(got[t * qDim + a] - y0) <= 1e-4 * (1 + Math.abs(y0)), "q[" + t + ", " + a + "] = "
                            + got[t * qDim + a] + ", float64 " + y0);
                    assertTrue(Math.abs(got[t * qDim + b] - y1) <= 1e-4 * (1 + Math.abs(y1)), "q[" + t + ", " + b + "] = "
                            + got[t * qDim + b] + ", float64 " + y1);
                }
            }
        } finally {
            for (DeviceBuffer b : buffers) {
                b.close();
            }
        }
    }

    private static DeviceBuffer track(List<DeviceBuffer> buffers, DeviceBuffer b) {
        buffers.add(b);
        return b;
    }

    @Test
    void f32WeightsConvertedToBf16StayWithinBf16Precision() {
        int rows = 64;
        int cols = 128;
        int n = 20;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble(-1, 1);
        }
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        byte[] raw = Quantizer.quantize(GgmlType.F32, w);
        Matrix cpu = Matrix.of(GgmlType.F32, ByteBuffer.wrap(raw), rows, cols, "w");
        float[] expected = new float[n * rows];
        cpu.matmul(x, expected, n);
        try (DeviceMatrix dm = DeviceMatrix.upload(cpu, ByteBuffer.wrap(raw), true);
             DeviceBuffer dx = DeviceBuffer.allocate(4L * x.length, "x");
             DeviceBuffer dy = DeviceBuffer.allocate(4L * expected.length, "y")) {
            assertTrue(dm.type() == GgmlType.BF16);
            dx.upload(x, x.length);
            dm.matmul(device.kernels(), dx, dy, n);
            float[] got = new float[expected.length];
            dy.download(got, got.length);
            double err = CudaTestDevice.relativeError(got, expected, got.length);
            assertTrue(err <= 1.5e-2, "relative error " + err);
        }
    }

    @Test
    void argmaxPicksTheLargestLogitAndTheLowestIdOnTies() {
        int rows = 4;
        int vocab = 1001;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] logits = new float[rows * vocab];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) rnd.nextDouble(-5, 5);
        }
        logits[0 * vocab + 700] = 9f;
        logits[1 * vocab + 999] = 9f;
        logits[2 * vocab + 12] = 9f;   // tie: 12 and 600, the lower id wins
        logits[2 * vocab + 600] = 9f;
        logits[3 * vocab + 0] = 9f;
        int[] expected = new int[rows];
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[r * vocab + i] > logits[r * vocab + best]) {
                    best = i;
                }
            }
            expected[r] = best;
        }
        try (DeviceBuffer dl = DeviceBuffer.allocate(4L * logits.length, "logits");
             DeviceBuffer out = DeviceBuffer.allocate(4L * rows, "out")) {
            dl.upload(logits, logits.length);
            device.kernels().launch("argmax_rows", rows, 1, 256, 0, dl, vocab, out);
            int[] got = new int[rows];
            out.download(got, rows);
            assertArrayEquals(expected, got);
            assertArrayEquals(new int[] {700, 999, 12, 0}, got);
        }
    }

    /** Random logits on a quarter grid (many ties), 1 % NaN and 1 % -inf. */
    private static float[] gridLogits(SplittableRandom rnd, int n) {
        float[] logits = new float[n];
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble();
            logits[i] = u < 0.01 ? Float.NaN : u < 0.02 ? Float.NEGATIVE_INFINITY : Math.round(rnd.nextGaussian() * 16) / 4f;
        }
        return logits;
    }

    /**
     * The two-stage argmax of long rows (argmax_chunks + argmax_merge, what the model launches for vocabularies over
     * two chunks) against a CPU argmax and argmax_rows: ties inside and across chunks (the lowest id wins), chunk
     * edges, a last chunk of one logit, NaN (never chosen), -inf, and a row without any value above -inf
     * (both give 0x7fffffff).
     */
    @ParameterizedTest(name = "rows={0} vocab={1}")
    @CsvSource({"64, 128256", "5, 8193", "6, 12289", "5, 32000"})
    void argmaxInChunksIsArgmaxRows(int rows, int vocab) {
        float[] logits = gridLogits(new SplittableRandom(vocab), rows * vocab);
        int chunk = LogitHead.HEAD_CHUNK;
        logits[0 * vocab + chunk] = 99f;     // tie across a chunk edge: chunk - 1 wins
        logits[0 * vocab + chunk - 1] = 99f;
        logits[1 * vocab + vocab - 1] = 99f; // the last logit (a chunk of one where vocab % chunk == 1)
        logits[2 * vocab + Math.min(2 * chunk + 5, vocab - 1)] = 99f; // tie in a later chunk and an earlier one: 17 wins
        logits[2 * vocab + 17] = 99f;
        logits[3 * vocab + 3] = Float.NaN;
        java.util.Arrays.fill(logits, 4 * vocab, 5 * vocab, Float.NEGATIVE_INFINITY); // nothing above -inf
        int[] expected = new int[rows];
        for (int r = 0; r < rows; r++) {
            float v = Float.NEGATIVE_INFINITY;
            int best = 0x7fffffff;
            for (int i = 0; i < vocab; i++) {
                if (logits[r * vocab + i] > v) {
                    v = logits[r * vocab + i];
                    best = i;
                }
            }
            expected[r] = best;
        }
        int chunks = LogitHead.chunks(vocab);
        assertTrue(chunks >= 3, "two stages serve rows longer than two chunks");
        try (DeviceBuffer dl = DeviceBuffer.allocate(4L * logits.length, "logits");
             DeviceBuffer partV = DeviceBuffer.allocate(4L * rows * chunks, "chunk max");
             DeviceBuffer partI = DeviceBuffer.allocate(4L * rows * chunks, "chunk argmax");
             DeviceBuffer out = DeviceBuffer.allocate(4L * rows, "out");
             DeviceBuffer outRows = DeviceBuffer.allocate(4L * rows, "out rows")) {
            dl.upload(logits, logits.length);
            device.kernels().launch("argmax_chunks", rows, chunks, 256, 0, dl, vocab, partV, partI);
            device.kernels().launch("argmax_merge", rows, 1, 32, 0, partV, partI, chunks, out);
            device.kernels().launch("argmax_rows", rows, 1, 256, 0, dl, vocab, outRows);
            int[] got = new int[rows];
            int[] gotRows = new int[rows];
            out.download(got, rows);
            outRows.download(gotRows, rows);
            assertArrayEquals(expected, gotRows, "argmax_rows");
            assertArrayEquals(expected, got, "argmax_chunks + argmax_merge");
            org.junit.jupiter.api.Assertions.assertEquals(chunk - 1, got[0]);
            org.junit.jupiter.api.Assertions.assertEquals(vocab - 1, got[1]);
            org.junit.jupiter.api.Assertions.assertEquals(17, got[2]);
            org.junit.jupiter.api.Assertions.assertEquals(0x7fffffff, got[4]);
        }
    }

    /**
     * top1_chunks + top1_merge (the model's k = 1 candidates of long rows: greedy engine steps) against the CPU's first
     * candidate: +0 before -0, ties inside and across chunks (the lowest id), a last chunk of one logit, NaN never
     * first while a number is there, rows of -inf and NaN only; the max, and the log-sum-exp within float rounding.
     */
    @ParameterizedTest(name = "rows={0} vocab={1}")
    @CsvSource({"64, 128256", "7, 8193", "7, 12289", "7, 32000"})
    void topOneInChunksIsTheFirstCandidate(int rows, int vocab) {
        float[] logits = gridLogits(new SplittableRandom(vocab + 5L), rows * vocab);
        int chunk = LogitHead.HEAD_CHUNK;
        java.util.Arrays.fill(logits, 0, vocab, -1f);      // row 0: -0.0 at 7, +0.0 at chunk + 3: +0 comes first
        logits[7] = -0.0f;
        logits[chunk + 3] = 0.0f;
        logits[1 * vocab + chunk] = 99f;                   // row 1: a tie across a chunk edge, the lower id wins
        logits[1 * vocab + chunk - 1] = 99f;
        logits[2 * vocab + vocab - 1] = 99f;               // row 2: the last logit
        java.util.Arrays.fill(logits, 3 * vocab, 4 * vocab, Float.NEGATIVE_INFINITY); // row 3: -inf only
        java.util.Arrays.fill(logits, 4 * vocab, 5 * vocab, Float.NaN);               // row 4: NaN only
        java.util.Arrays.fill(logits, 5 * vocab, 6 * vocab, Float.NaN);               // row 5: NaN and one -inf
        logits[5 * vocab + vocab / 2] = Float.NEGATIVE_INFINITY;
        io.inferstream.runtime.model.LogitCandidates want = io.inferstream.runtime.model.LogitCandidates.of(logits, rows, vocab, 1);
        int chunks = LogitHead.chunks(vocab);
        assertTrue(chunks >= 3, "two stages serve rows longer than two chunks");
        try (DeviceBuffer dl = DeviceBuffer.allocate(4L * logits.length, "logits");
             DeviceBuffer partKey = DeviceBuffer.allocate(8L * rows * chunks, "chunk keys");
             DeviceBuffer partStats = DeviceBuffer.allocate(8L * rows * chunks, "chunk stats");
             DeviceBuffer outLogits = DeviceBuffer.allocate(4L * rows, "candidate logits");
             DeviceBuffer outIds = DeviceBuffer.allocate(4L * rows, "candidate ids");
             DeviceBuffer stats = DeviceBuffer.allocate(8L * rows, "row stats")) {
            dl.upload(logits, logits.length);
            device.kernels().launch("top1_chunks", rows, chunks, 256, 0, dl, vocab, partKey, partStats);
            device.kernels().launch("top1_merge", rows, 1, 32, 0, dl, partKey, partStats, vocab, chunks, outLogits, outIds, stats);
            float[] gotLogits = new float[rows];
            int[] gotIds = new int[rows];
            float[] gotStats = new float[2 * rows];
            outLogits.download(gotLogits, rows);
            outIds.download(gotIds, rows);
            stats.download(gotStats, gotStats.length);
            assertArrayEquals(want.ids(), gotIds, "ids");
            assertArrayEquals(want.logits(), gotLogits, "logits");
            org.junit.jupiter.api.Assertions.assertEquals(chunk + 3, gotIds[0], "+0 before -0");
            org.junit.jupiter.api.Assertions.assertEquals(chunk - 1, gotIds[1]);
            org.junit.jupiter.api.Assertions.assertEquals(vocab - 1, gotIds[2]);
            for (int r = 0; r < rows; r++) {
                if (r != 4) { // NaN only: the CPU's max is its first candidate, NaN; the device's, like topk's, -inf
                    org.junit.jupiter.api.Assertions.assertEquals(want.max()[r], gotStats[2 * r], 0f, "row " + r + " max");
                }
                if (r >= 3 && r <= 5) {
                    continue; // no finite value: the log-sum-exp is not compared
                }
                double lse = gotStats[2 * r] + Math.log(gotStats[2 * r + 1]);
                org.junit.jupiter.api.Assertions.assertEquals(want.logSumExp()[r], lse, 1e-5, "row " + r + " log-sum-exp");
            }
        }
    }

    /**
     * topk_rows against the CPU candidates (LogitCandidates.of, itself checked against a sorted reference) on random
     * logits on a coarse grid (many ties) with ±0 and -inf, rows of one repeated value (a tie longer than k, decided
     * by the lowest ids), the Llama 3 vocabulary and odd sizes, k from 1 to 256: the same ids and logits in the
     * same order, the same max, the sum of exp within float rounding of the CPU's log-sum-exp.
     */
    @ParameterizedTest(name = "rows={0} vocab={1} k={2} two stages={3}")
    @CsvSource({
        "3, 128256, 1, false",
        "3, 128256, 256, false",
        "64, 128256, 64, false",
        "2, 128256, 33, false",
        "4, 1001, 7, false",
        "2, 257, 256, false",
        "1, 300, 255, false",
        "5, 4099, 100, false",
        "3, 32000, 2, false",
        "3, 128256, 1, true",
        "3, 128256, 256, true",
        "64, 128256, 64, true",
        "64, 128256, 256, true",
        "2, 128256, 33, true",
        "3, 32000, 2, true",
        "2, 8193, 256, true",
        "3, 12289, 100, true",
        "2, 12300, 256, true",
    })
    void topKRowsMatchTheCpuCandidates(int rows, int vocab, int k, boolean twoStage) {
        SplittableRandom rnd = new SplittableRandom(vocab * 7L + k);
        float[] logits = new float[rows * vocab];
        for (int i = 0; i < logits.length; i++) {
            double u = rnd.nextDouble();
            logits[i] = u < 0.02 ? -0.0f : u < 0.04 ? 0.0f : u < 0.05 ? Float.NEGATIVE_INFINITY
                    : Math.round(rnd.nextGaussian() * 3 * 8) / 8f;
        }
        java.util.Arrays.fill(logits, 0, vocab, 1.5f); // row 0: one value everywhere
        io.inferstream.runtime.model.LogitCandidates want = io.inferstream.runtime.model.LogitCandidates.of(logits, rows, vocab, k);
        try (DeviceBuffer dl = DeviceBuffer.allocate(4L * logits.length, "logits");
             DeviceBuffer outLogits = DeviceBuffer.allocate(4L * rows * k, "candidate logits");
             DeviceBuffer outIds = DeviceBuffer.allocate(4L * rows * k, "candidate ids");
             DeviceBuffer stats = DeviceBuffer.allocate(8L * rows, "row stats")) {
            dl.upload(logits, logits.length);
            if (twoStage) {
                // what CudaLlamaModel launches for long rows: per-chunk top-k lists, then their merge
                int chunks = LogitHead.chunks(vocab);
                assertTrue(chunks >= 3, "two stages serve rows longer than two chunks");
                long perRow = (long) (chunks - 1) * k + Math.min(k, vocab - (chunks - 1) * LogitHead.HEAD_CHUNK);
                try (DeviceBuffer candV = DeviceBuffer.allocate(4L * rows * perRow, "chunk candidate logits");
                     DeviceBuffer candI = DeviceBuffer.allocate(4L * rows * perRow, "chunk candidate ids");
                     DeviceBuffer chunkStats = DeviceBuffer.allocate(8L * rows * chunks, "chunk stats")) {
                    device.kernels().launch("topk_chunks", rows, chunks, 256, 0, dl, vocab, k, candV, candI, chunkStats);
                    device.kernels().launch("topk_merge", rows, 1, LogitHead.TOPK_THREADS, 0, candV, candI, chunkStats,
                            vocab, chunks, k, outLogits, outIds, stats);
                    device.synchronize();
                }
            } else {
                device.kernels().launch("topk_rows", rows, 1, LogitHead.TOPK_THREADS, 0, dl, vocab, k, outLogits, outIds, stats);
            }
            float[] gotLogits = new float[rows * k];
            int[] gotIds = new int[rows * k];
            float[] gotStats = new float[2 * rows];
            outLogits.download(gotLogits, gotLogits.length);
            outIds.download(gotIds, gotIds.length);
            stats.download(gotStats, gotStats.length);
            assertArrayEquals(want.ids(), gotIds, "ids");
            assertArrayEquals(want.logits(), gotLogits, "logits");
            for (int r = 0; r < rows; r++) {
                org.junit.jupiter.api.Assertions.assertEquals(want.max()[r], gotStats[2 * r], 0f, "row " + r + " max");
                double lse = gotStats[2 * r] + Math.log(gotStats[2 * r + 1]);
                org.junit.jupiter.api.Assertions.assertEquals(want.logSumExp()[r], lse, 1e-5, "row " + r + " log-sum-exp");
            }
        }
    }

    /** Closes every non-null matrix and buffer of the arrays (a test's device allocations). */
    /** n tokens of activations in [-2, 2). */
    private static float[] randomActivations(SplittableRandom rnd, int n, int cols) {
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        return x;
    }

    /** Weights in [-1, 1) / sqrt(cols), so products of unit-size activations stay of unit size. */
    private static float[] randomWeights(SplittableRandom rnd, int rows, int cols) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextDouble(-1, 1) / Math.sqrt(cols));
        }
        return w;
    }

    /** The CPU's output m of products of x by cpu's matrices: matrix m's, or silu(gate) * up for a SwiGLU pair. */
    private static float[] expectedOutput(Matrix[] cpu, float[] x, int n, int m, boolean swiglu) {
        float[] expected = new float[n * cpu[m].rows()];
        cpu[m].matmul(x, expected, n);
        if (swiglu) {
            float[] up = new float[n * cpu[1].rows()];
            cpu[1].matmul(x, up, n);
            for (int i = 0; i < expected.length; i++) {
                double g = expected[i];
                expected[i] = (float) (g / (1 + Math.exp(-g)) * up[i]);
            }
        }
        return expected;
    }

    private static void closeAll(AutoCloseable[]... arrays) {
        for (AutoCloseable[] array : arrays) {
            for (AutoCloseable c : array) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
        }
    }
}
