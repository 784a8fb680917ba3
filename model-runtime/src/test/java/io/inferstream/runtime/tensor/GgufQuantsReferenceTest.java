package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.Quantizer;

/**
 * Q4_1, Q5_0, Q5_1, Q5_K, Q2_K, Q3_K, IQ4_NL and IQ4_XS against ggml's own Python package (gguf-py 0.19.0: {@code reference/gguf-quants.json}, written
 * by {@code gguf-quants.py} beside it): our dequantization gives its values bit for bit, our quantizers its bytes, and
 * every product path multiplies exactly those values.
 */
class GgufQuantsReferenceTest {

    record Case(GgmlType type, int rows, int cols, float[] input, byte[] bytes, float[] values) {
    }

    static List<Case> cases() throws IOException {
        try (InputStream in = GgufQuantsReferenceTest.class.getResourceAsStream("/reference/gguf-quants.json")) {
            JsonNode root = new ObjectMapper().readTree(in);
            assertTrue(root.path("source").asText().startsWith("gguf 0.19.0"), root.path("source").asText());
            List<Case> cases = new ArrayList<>();
            for (JsonNode c : root.path("cases")) {
                cases.add(new Case(GgmlType.valueOf(c.path("type").asText()), c.path("rows").asInt(), c.path("cols").asInt(),
                        c.path("input").isNull() ? null : floats(c.path("input")), HexFormat.of().parseHex(c.path("bytes").asText()),
                        floats(c.path("values"))));
            }
            assertEquals(List.of(GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q5_K, GgmlType.Q2_K, GgmlType.Q3_K,
                    GgmlType.IQ4_NL, GgmlType.IQ4_XS), cases.stream().map(Case::type).toList());
            return cases;
        }
    }

    private static float[] floats(JsonNode bits) {
        float[] out = new float[bits.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Float.intBitsToFloat((int) bits.get(i).asLong());
        }
        return out;
    }

    private static Matrix matrix(Case c) {
        return Matrix.of(c.type(), ByteBuffer.wrap(c.bytes()).order(ByteOrder.LITTLE_ENDIAN), c.rows(), c.cols(), c.type().name());
    }

    @Test
    void everyRowDequantizesToTheReferencesValuesBitForBit() throws IOException {
        for (Case c : cases()) {
            Matrix m = matrix(c);
            assertEquals(c.type(), m.type());
            for (int r = 0; r < c.rows(); r++) {
                float[] row = new float[c.cols()];
                m.dequantizeRow(r, row, 0);
                float[] expected = java.util.Arrays.copyOfRange(c.values(), r * c.cols(), (r + 1) * c.cols());
                assertArrayEquals(expected, row, c.type() + " row " + r); // bits: -0 and +0 differ
                if (VectorApiSupport.ENABLED) {
                    float[] simd = new float[c.cols() + 3];
                    m.dequantizeRowSimd(r, simd, 3);
                    assertArrayEquals(expected, java.util.Arrays.copyOfRange(simd, 3, 3 + c.cols()), c.type() + " row " + r + " (SIMD)");
                }
            }
        }
    }

    @Test
    void ourQuantizersWriteTheReferencesBytes() throws IOException {
        int checked = 0;
        for (Case c : cases()) {
            if (c.input() != null) {
                assertArrayEquals(c.bytes(), Quantizer.quantize(c.type(), c.input()), c.type().name());
                checked++;
            }
        }
        assertEquals(3, checked, "Q4_1, Q5_0, Q5_1");
    }

    @Test
    void q5KQuantizedByUsReadsBackWithinItsStep() {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] x = new float[512];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        Matrix m = Matrix.of(GgmlType.Q5_K, ByteBuffer.wrap(Quantizer.quantize(GgmlType.Q5_K, x)).order(ByteOrder.LITTLE_ENDIAN),
                2, 256, "q5k");
        float[] back = new float[256];
        for (int r = 0; r < 2; r++) {
            m.dequantizeRow(r, back, 0);
            for (int i = 0; i < 256; i++) {
                // a group spans at most 2 (values in [-1, 1]) over 31 steps, its 6-bit scale rounded: well within 0.06
                assertEquals(x[256 * r + i], back[i], 0.06, "value " + (256 * r + i));
            }
        }
    }

    @Test
    void everyProductPathMultipliesTheReferencesValues() throws IOException {
        SplittableRandom rnd = new SplittableRandom(9);
        for (Case c : cases()) {
            Matrix m = matrix(c);
            for (int n : new int[] {1, 3, 7}) {
                float[] x = new float[n * c.cols()];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (rnd.nextDouble() - 0.5);
                }
                float[] out = new float[n * c.rows()];
                m.matmul(x, out, n);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < c.rows(); r++) {
                        double ref = 0;
                        double scale = 0;
                        for (int k = 0; k < c.cols(); k++) {
                            ref += (double) c.values()[r * c.cols() + k] * x[t * c.cols() + k];
                            scale += Math.abs((double) c.values()[r * c.cols() + k] * x[t * c.cols() + k]);
                        }
                        float got = out[t * c.rows() + r];
                        assertEquals(ref, got, 1e-5 * scale + 1e-30, c.type() + " n=" + n + " token " + t + " row " + r);
                        assertEquals(Float.floatToIntBits(m.dot(r, x, t * c.cols())), Float.floatToIntBits(got),
                                c.type() + ": a token's product is the same alone and batched (n=" + n + ")");
                    }
                }
            }
        }
    }
}
