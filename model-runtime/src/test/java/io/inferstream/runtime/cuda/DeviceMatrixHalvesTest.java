package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;
import io.inferstream.runtime.tensor.Matrix;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The 16-bit copies the GPU gets of matrices it cannot read as they are (F32 as BF16, K-quants and Q4_0 as F16) are,
 * bit for bit, each weight of the CPU matrix's row decode rounded by Float16, whatever blocks of rows the worker
 * pool splits them into.
 */
class DeviceMatrixHalvesTest {

    @ParameterizedTest(name = "{0} -> {1}, {2} x {3}")
    @CsvSource({
        "F32, BF16, 2500, 256",   // three tasks of 1024 rows, the last one short
        "Q4_K, F16, 1030, 512",
        "Q6_K, F16, 7, 256",      // one task
        "Q4_0, F16, 300, 1024",
        "F32, F16, 1, 4096",
    })
    void everyWeightIsTheRowDecodeRounded(GgmlType type, GgmlType target, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(rows * 7L + cols);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble(-3, 3);
        }
        Matrix cpu = Matrix.of(type, ByteBuffer.wrap(Quantizer.quantize(type, w)), rows, cols, "w");
        short[] expected = new short[rows * cols];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            cpu.dequantizeRow(r, row, 0);
            for (int c = 0; c < cols; c++) {
                expected[r * cols + c] = target == GgmlType.BF16 ? Float16.floatToBf16(row[c]) : Float16.fromFloat(row[c]);
            }
        }
        assertArrayEquals(expected, DeviceMatrix.halves(cpu, target));
    }

    @Test
    void onlySixteenBitTargetsAreAccepted() {
        Matrix m = Matrix.ofF32(new float[8], 2, 4);
        assertThrows(IllegalArgumentException.class, () -> DeviceMatrix.halves(m, GgmlType.Q8_0));
    }
}
