package io.inferstream.runtime.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.gguf.Float16;
import io.inferstream.runtime.gguf.GgmlType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writer output read back by {@link SafetensorsFile}, its exact bytes, and the BF16 rounding. */
class SafetensorsWriterTest {

    @TempDir
    Path dir;

    /** Values that exercise rounding: ties, subnormals, the edges of F16 and BF16 range, signed zero, NaN. */
    private static final float[] VALUES = {
        0f, -0f, 1f, -2.5f, 1f / 3, (float) Math.PI, 65504f, 65520f, 1e-7f, 6e-8f, 1.00390625f, 1.01171875f,
        3.4e38f, Float.MIN_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, -123.456f,
    };

    private Path write(SafetensorsWriter w, String name) {
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    @Test
    void f32Bf16AndF16TensorsRoundTrip() {
        Path p = write(new SafetensorsWriter()
                .addF32("f32", VALUES, 3, 6)
                .addBf16("bf16", VALUES, 18)
                .addF16("f16", VALUES, 6, 3), "floats.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(SafetensorsDtype.F32, f.tensor("f32").dtype());
            assertEquals(SafetensorsDtype.BF16, f.tensor("bf16").dtype());
            assertEquals(SafetensorsDtype.F16, f.tensor("f16").dtype());
            ByteBuffer f32 = f.tensorData("f32");
            ByteBuffer bf16 = f.tensorData("bf16");
            ByteBuffer f16 = f.tensorData("f16");
            assertEquals(VALUES.length * 4, f32.remaining());
            assertEquals(VALUES.length * 2, bf16.remaining());
            assertEquals(VALUES.length * 2, f16.remaining());
            for (int i = 0; i < VALUES.length; i++) {
                float v = VALUES[i];
                assertEquals(Float.floatToRawIntBits(v), f32.getInt(4 * i), "f32 " + v);
                assertEquals(SafetensorsWriter.toBf16(v), bf16.getShort(2 * i), "bf16 " + v);
                assertEquals(Float16.fromFloat(v), f16.getShort(2 * i), "f16 " + v);
            }
        }
    }

    @Test
    void metadataRoundTripsInOrderAndIsEmptyWhenAbsent() {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("z", "ünïcode ▁x \"quoted\"\n");
        meta.put("a", "");
        SafetensorsWriter w = new SafetensorsWriter().addF32("x", new float[] {1});
        meta.forEach(w::putMetadata);
        try (SafetensorsFile f = SafetensorsFile.open(write(w, "meta.safetensors"))) {
            assertEquals(meta, f.metadata());
            assertEquals(List.of("format", "z", "a"), List.copyOf(f.metadata().keySet()));
        }
        try (SafetensorsFile f = SafetensorsFile.open(write(new SafetensorsWriter(), "nothing.safetensors"))) {
            assertEquals(Map.of(), f.metadata());
            assertEquals(List.of(), f.tensors());
        }
    }

    @Test
    void scalarAndThreeDimensionalShapesRoundTrip() {
        float[] cube = new float[2 * 3 * 4]; // [2, 3, 4]: element [i][j][k] at (i * 3 + j) * 4 + k
        for (int i = 0; i < cube.length; i++) {
            cube[i] = i * 0.5f;
        }
        Path p = write(new SafetensorsWriter().addF32("scalar", new float[] {7f}).addF32("cube", cube, 2, 3, 4),
                "shapes.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            SafetensorsTensor scalar = f.tensor("scalar");
            assertArrayEquals(new long[0], scalar.shape());
            assertEquals(1, scalar.elementCount());
            assertEquals(4, scalar.byteCount());
            assertEquals(7f, f.tensorData("scalar").getFloat(0));
            SafetensorsTensor t = f.tensor("cube");
            assertArrayEquals(new long[] {2, 3, 4}, t.shape());
            assertEquals(24, t.elementCount());
            assertEquals(((1 * 3 + 2) * 4 + 3) * 0.5f, f.tensorData("cube").getFloat(4 * ((1 * 3 + 2) * 4 + 3)));
        }
    }

    @Test
    void tensorsAreLaidOutContiguouslyInTheOrderAdded() throws IOException {
        Path p = write(new SafetensorsWriter()
                .addF16("z", new float[] {1, 2, 3}, 3) // 6 bytes: the next tensor starts unaligned, as allowed
                .addF32("a", new float[] {4}, 1)
                .add("m", SafetensorsDtype.U8, new long[] {2}, new byte[] {9, 8}), "order.safetensors");
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            List<SafetensorsTensor> ts = f.tensors();
            assertEquals(List.of("z", "a", "m"), ts.stream().map(SafetensorsTensor::name).toList());
            assertEquals(8 + headerLength, ts.get(0).begin());
            assertEquals(ts.get(0).end(), ts.get(1).begin());
            assertEquals(ts.get(1).end(), ts.get(2).begin());
            assertEquals(Files.size(p), ts.get(2).end());
            assertEquals(4f, f.tensorData("a").getFloat(0));
            assertEquals(8, f.tensorData("m").get(1));
        }
    }

    @Test
    void headerIsCompactJsonPaddedWithSpacesToAMultipleOf8() throws IOException {
        for (String name : List.of("w", "we", "wei", "weig", "weigh", "weight", "weight.", "weight.0")) {
            byte[] b = Files.readAllBytes(write(new SafetensorsWriter().putMetadata("format", "pt")
                    .addBf16(name, new float[] {1, 2}, 1, 2), "pad.safetensors"));
            long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            String json = "{\"__metadata__\":{\"format\":\"pt\"},\"" + name
                    + "\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[0,4]}}";
            assertEquals(0, n % 8, name);
            assertEquals((json.length() + 7) / 8 * 8, n, name);
            String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
            assertEquals(json + " ".repeat((int) n - json.length()), header, name);
            assertEquals(8 + n + 4, b.length, name);
            assertEquals((byte) 0x80, b[8 + (int) n]); // 1.0 as BF16 is 0x3F80, little-endian
            assertEquals((byte) 0x3F, b[8 + (int) n + 1]);
        }
    }

    @Test
    void toBf16RoundsToNearestEvenLikeTorch() {
        assertEquals((short) 0x3F80, SafetensorsWriter.toBf16(1f));
        assertEquals((short) 0xBF80, SafetensorsWriter.toBf16(-1f));
        assertEquals((short) 0x0000, SafetensorsWriter.toBf16(0f));
        assertEquals((short) 0x8000, SafetensorsWriter.toBf16(-0f));
        // Below, at and above the halfway point between 0x3F80 and 0x3F81.
        assertEquals((short) 0x3F80, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x3F80_7FFF)));
        assertEquals((short) 0x3F80, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x3F80_8000))); // tie: to even 0x3F80
        assertEquals((short) 0x3F81, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x3F80_8001)));
        assertEquals((short) 0x3F82, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x3F81_8000))); // tie: to even 0x3F82
        assertEquals((short) 0xBF82, SafetensorsWriter.toBf16(Float.intBitsToFloat(0xBF81_8000))); // sign apart, same
        // Rounding up carries into the exponent: just below 2 becomes 2, the largest float becomes infinity.
        assertEquals((short) 0x4000, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x3FFF_FFFF)));
        assertEquals((short) 0x7F80, SafetensorsWriter.toBf16(Float.MAX_VALUE));
        assertEquals((short) 0x7F7F, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x7F7F_7FFF)));
        assertEquals((short) 0x7F80, SafetensorsWriter.toBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, SafetensorsWriter.toBf16(Float.NEGATIVE_INFINITY));
        // Subnormals round like the rest; the smallest rounds to zero.
        assertEquals((short) 0x0000, SafetensorsWriter.toBf16(Float.MIN_VALUE));
        assertEquals((short) 0x0001, SafetensorsWriter.toBf16(Float.intBitsToFloat(0x0000_8001)));
        // Every NaN (negative, signalling, with a payload that would round to infinity) is torch's quiet NaN.
        for (int bits : new int[] {0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7F80_7FFF, 0xFFFF_FFFF}) {
            short bf = SafetensorsWriter.toBf16(Float.intBitsToFloat(bits));
            assertEquals((short) 0x7FC0, bf, Integer.toHexString(bits));
            assertTrue(Float.isNaN(Float16.bf16ToFloat(bf)));
        }
        // Whenever the value is exactly representable it is kept.
        for (int h = 0; h < 0x7F80; h += 0x51) {
            float exact = Float16.bf16ToFloat((short) h);
            assertEquals((short) h, SafetensorsWriter.toBf16(exact));
        }
    }

    @Test
    void writerRejectsBadTensorsAndNamesThem() {
        SafetensorsWriter w = new SafetensorsWriter().addF32("a", new float[] {1, 2}, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> w.add("b", SafetensorsDtype.F32, new long[] {2, 3}, new byte[20]));
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("24 bytes, got 20"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> w.addBf16("c", new float[5], 2, 3));
        assertTrue(e.getMessage().contains("'c'") && e.getMessage().contains("6 elements, got 5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> w.addF32("a", new float[1]));
        assertTrue(e.getMessage().contains("duplicate tensor 'a'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> w.addF32("__metadata__", new float[1]));
        assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> w.addF16("d", new float[0], 2, -1));
        assertTrue(e.getMessage().contains("'d'") && e.getMessage().contains("negative"), e.getMessage());
    }

    @Test
    void writeFailureNamesThePath() {
        Path p = dir.resolve("missing-dir").resolve("x.safetensors");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> new SafetensorsWriter().addF32("a", new float[] {1}).write(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    }

    @Test
    void dtypesHaveTheirSizesSpellingsAndGgmlTypes() {
        assertEquals(15, SafetensorsDtype.values().length);
        assertEquals(Optional.of(SafetensorsDtype.F8_E4M3), SafetensorsDtype.of("F8_E4M3"));
        assertEquals(Optional.empty(), SafetensorsDtype.of("bf16"));
        assertEquals(Optional.empty(), SafetensorsDtype.of("F4"));
        assertEquals(1, SafetensorsDtype.BOOL.bytes());
        assertEquals(2, SafetensorsDtype.BF16.bytes());
        assertEquals(4, SafetensorsDtype.U32.bytes());
        assertEquals(8, SafetensorsDtype.F64.bytes());
        assertEquals(Optional.of(GgmlType.F32), SafetensorsDtype.F32.ggmlType());
        assertEquals(Optional.of(GgmlType.F16), SafetensorsDtype.F16.ggmlType());
        assertEquals(Optional.of(GgmlType.BF16), SafetensorsDtype.BF16.ggmlType());
        for (SafetensorsDtype d : SafetensorsDtype.values()) {
            assertEquals(Optional.of(d), SafetensorsDtype.of(d.name()));
            if (d != SafetensorsDtype.F32 && d != SafetensorsDtype.F16 && d != SafetensorsDtype.BF16) {
                assertEquals(Optional.empty(), d.ggmlType(), d.name());
            }
        }
    }

    @Test
    void tensorEntriesCompareShapesByContent() {
        long[] shape = {2, 3};
        SafetensorsTensor t = new SafetensorsTensor("w", SafetensorsDtype.F16, shape, 64, 76);
        shape[0] = 5; // the record keeps its own copy
        assertEquals(new SafetensorsTensor("w", SafetensorsDtype.F16, new long[] {2, 3}, 64, 76), t);
        assertEquals(new SafetensorsTensor("w", SafetensorsDtype.F16, new long[] {2, 3}, 64, 76).hashCode(), t.hashCode());
        assertNotEquals(new SafetensorsTensor("w", SafetensorsDtype.F16, new long[] {3, 2}, 64, 76), t);
        assertEquals("w F16 [2, 3] @[64, 76)", t.toString());
        assertEquals(6, t.elementCount());
        assertEquals(12, t.byteCount());
    }
}
