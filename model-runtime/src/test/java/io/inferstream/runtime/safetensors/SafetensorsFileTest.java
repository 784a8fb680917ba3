package io.inferstream.runtime.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.gguf.GgufWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading files built byte by byte here (as the reference implementation lays them out), and every rejection. */
class SafetensorsFileTest {

    @TempDir
    Path dir;

    /** The one-tensor header the reference writer (compact serde_json) produces for {@code a: F32 [2]}. */
    private static final String ONE_TENSOR = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    /** A file: u64 little-endian header length, the header bytes as given (no padding added), the data. */
    private static byte[] safetensors(byte[] header, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(le(new byte[8]).putLong(0, header.length).array());
        out.writeBytes(header);
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static byte[] safetensors(String header, int dataBytes) {
        return safetensors(header.getBytes(StandardCharsets.UTF_8), new byte[dataBytes]);
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private Path file(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private SafetensorsFormatException openFails(String name, byte[] bytes) throws IOException {
        Path p = file(name, bytes);
        return assertThrows(SafetensorsFormatException.class, () -> SafetensorsFile.open(p).close());
    }

    private SafetensorsFormatException openFails(String name, String header, int dataBytes) throws IOException {
        return openFails(name, safetensors(header, dataBytes));
    }

    private static void assertMessage(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    // ------------------------------------------------------------ reading

    @Test
    void readsTheReferenceLayoutAndOurWriterProducesItByteForByte() throws IOException {
        // 54 bytes of JSON padded with 2 spaces to 56: the data section starts at 64.
        byte[] data = new byte[8];
        le(data).putFloat(0, 1.5f).putFloat(4, -2f);
        byte[] expected = safetensors((ONE_TENSOR + "  ").getBytes(StandardCharsets.US_ASCII), data);
        assertEquals(56, le(expected).getLong(0));

        try (SafetensorsFile f = SafetensorsFile.open(file("reference.safetensors", expected))) {
            assertEquals(List.of(new SafetensorsTensor("a", SafetensorsDtype.F32, new long[] {2}, 64, 72)), f.tensors());
            assertEquals(Map.of(), f.metadata());
            ByteBuffer a = f.tensorData("a");
            assertEquals(0, a.position());
            assertEquals(8, a.limit());
            assertEquals(ByteOrder.LITTLE_ENDIAN, a.order());
            assertEquals(1.5f, a.getFloat(0));
            assertEquals(-2f, a.getFloat(4));
        }

        Path ours = dir.resolve("ours.safetensors");
        new SafetensorsWriter().addF32("a", new float[] {1.5f, -2f}, 2).write(ours);
        assertArrayEquals(expected, Files.readAllBytes(ours));
    }

    @Test
    void readsAnUnpaddedHeaderWithOffsetsInNeitherNameNorHeaderOrder() throws IOException {
        String header = "{\"a.weight\":{\"dtype\":\"I32\",\"shape\":[2,1],\"data_offsets\":[6,14]},"
                + "\"__metadata__\":{\"format\":\"pt\"},"
                + "\"z.bias\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}";
        assertEquals(154, header.length()); // not a multiple of 8: the data starts at 162, unaligned
        byte[] data = new byte[14];
        le(data).putShort(0, (short) 0x3F80).putShort(2, (short) 0xC000).putShort(4, (short) 0x7F80) // 1, -2, inf
                .putInt(6, -7).putInt(10, 1 << 20);
        try (SafetensorsFile f = SafetensorsFile.open(file("python.safetensors", safetensors(
                header.getBytes(StandardCharsets.UTF_8), data)))) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(List.of(
                    new SafetensorsTensor("z.bias", SafetensorsDtype.BF16, new long[] {3}, 162, 168),
                    new SafetensorsTensor("a.weight", SafetensorsDtype.I32, new long[] {2, 1}, 168, 176)), f.tensors());
            ByteBuffer bias = f.tensorData("z.bias");
            assertEquals(6, bias.remaining());
            assertEquals((short) 0xC000, bias.getShort(2));
            ByteBuffer w = f.tensorData("a.weight");
            assertEquals(8, w.remaining());
            assertEquals(-7, w.getInt(0));
            assertEquals(1 << 20, w.getInt(4));
            assertTrue(f.hasTensor("a.weight"));
            assertFalse(f.hasTensor("__metadata__"));
            assertEquals(2, f.tensor("a.weight").elementCount());
        }
    }

    @Test
    void emptyTensorsGapsAndTrailingBytesAreAccepted() throws IOException {
        // The reference implementation requires the data to fill the file exactly; nothing reads gaps, so we allow them.
        String header = "{\"none\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[4,4]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
        try (SafetensorsFile f = SafetensorsFile.open(file("gaps.safetensors", safetensors(header, 16)))) {
            assertEquals(List.of("a", "none", "b"), f.tensors().stream().map(SafetensorsTensor::name).toList());
            assertEquals(0, f.tensor("none").elementCount());
            assertEquals(0, f.tensorData("none").remaining());
        }
    }

    @Test
    void missingTensorIsAFormatErrorNamingFileAndTensor() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file("one.safetensors", safetensors(ONE_TENSOR, 8)))) {
            SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> f.tensor("b"));
            assertMessage(e, "one.safetensors", "'b'", "missing");
            assertThrows(SafetensorsFormatException.class, () -> f.tensorData("b"));
        }
    }

    @Test
    void closeIsIdempotentAndMappedBuffersOutliveIt() throws IOException {
        byte[] data = new byte[8];
        le(data).putFloat(4, 3f);
        SafetensorsFile f = SafetensorsFile.open(file("close.safetensors", safetensors(
                ONE_TENSOR.getBytes(StandardCharsets.UTF_8), data)));
        ByteBuffer a = f.tensorData("a");
        f.close();
        f.close();
        assertEquals(3f, a.getFloat(4));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.tensorData("a"));
        assertMessage(e, "close.safetensors", "closed");
    }

    @Test
    void filesOver2GiBMapTensorsBeyond2GiBAndRejectHugeTensorsClearly() throws IOException {
        // A sparse file: "huge" is 2^31 bytes, one more than a ByteBuffer holds; "tail" lies after it.
        long two31 = 1L << 31;
        String header = "{\"huge\":{\"dtype\":\"U8\",\"shape\":[" + two31 + "],\"data_offsets\":[0," + two31 + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + two31 + "," + (two31 + 8) + "]}}";
        byte[] head = safetensors(header, 0);
        Path p = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.write(head);
            raf.seek(head.length + two31);
            byte[] tail = new byte[8];
            le(tail).putFloat(0, 42f).putFloat(4, -1f);
            raf.write(tail);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(two31, f.tensor("huge").byteCount());
            ByteBuffer tail = f.tensorData("tail");
            assertEquals(42f, tail.getFloat(0));
            assertEquals(-1f, tail.getFloat(4));
            SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> f.tensorData("huge"));
            assertMessage(e, "sparse.safetensors", "'huge'", "2 GiB");
        } finally {
            Files.deleteIfExists(p);
        }
    }

    // ------------------------------------------------------------ rejections

    @Test
    void fileShorterThanTheLengthPrefixIsRejected() throws IOException {
        assertMessage(openFails("short.safetensors", new byte[5]), "short.safetensors", "5 bytes", "8-byte");
    }

    @Test
    void headerLengthBeyondTheFileIsRejected() throws IOException {
        byte[] b = safetensors(ONE_TENSOR, 8);
        le(b).putLong(0, 1000);
        assertMessage(openFails("long.safetensors", b), "long.safetensors", "header length 1000",
                "exceeds the " + (b.length - 8) + " bytes", "truncated");
    }

    @Test
    void headerLengthOverTheReferenceLimitIsRejected() throws IOException {
        byte[] b = safetensors(ONE_TENSOR, 8);
        le(b).putLong(0, 100_000_001);
        assertMessage(openFails("limit.safetensors", b), "limit.safetensors", "header length 100000001", "100000000");
        le(b).putLong(0, -1);
        assertMessage(openFails("limit.safetensors", b), "header length 18446744073709551615");

        Path gguf = dir.resolve("model.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(gguf);
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsFile.open(gguf));
        assertMessage(e, "model.gguf", "GGUF file");
    }

    @Test
    void headerThatIsNotUtf8IsRejected() throws IOException {
        byte[] header = ONE_TENSOR.getBytes(StandardCharsets.UTF_8);
        header[2] = (byte) 0xFF; // inside the name "a"
        assertMessage(openFails("utf8.safetensors", safetensors(header, new byte[8])),
                "utf8.safetensors", "not valid UTF-8", "0xff", "header byte 2");
    }

    @Test
    void headerThatIsNotJsonIsRejected() throws IOException {
        assertMessage(openFails("json.safetensors", "{\"a\":{\"dtype\":", 0), "json.safetensors", "not valid JSON");
        assertMessage(openFails("trailing.safetensors", ONE_TENSOR + " }", 8), "trailing.safetensors", "not valid JSON");
        // A repeated name would leave one of two tensors unreachable.
        assertMessage(openFails("dup.safetensors", "{\"a\":{},\"a\":{}}", 0), "dup.safetensors", "not valid JSON",
                "'a'");
    }

    @Test
    void headerThatIsNotAnObjectIsRejected() throws IOException {
        assertMessage(openFails("array.safetensors", "[1,2]", 0), "array.safetensors", "an array [1,2]",
                "expected a JSON object");
        assertMessage(openFails("empty.safetensors", "        ", 0), "empty.safetensors", "header is empty");
    }

    @Test
    void entryThatIsNotAnObjectIsRejected() throws IOException {
        assertMessage(openFails("entry.safetensors", "{\"w\":[1,2]}", 0), "entry.safetensors", "tensor 'w'",
                "an array [1,2]", "expected an object");
    }

    @Test
    void missingOrMistypedFieldsAreRejected() throws IOException {
        assertMessage(openFails("nodtype.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "nodtype.safetensors", "tensor 'w'", "no \"dtype\"", "[shape, data_offsets]");
        assertMessage(openFails("dtype.safetensors", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "dtype.safetensors", "tensor 'w'", "\"dtype\" is a number 4", "expected a string");
        assertMessage(openFails("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8),
                "noshape.safetensors", "tensor 'w'", "no \"shape\"");
        assertMessage(openFails("shape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8),
                "shape.safetensors", "tensor 'w'", "\"shape\" is a number 2", "expected an array");
        assertMessage(openFails("dim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8),
                "dim.safetensors", "tensor 'w' shape[0] is a number 2.0", "expected an integer");
        assertMessage(openFails("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8),
                "nooffsets.safetensors", "tensor 'w'", "no \"data_offsets\"");
        assertMessage(openFails("offsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\"0\"}}", 8),
                "offsets.safetensors", "tensor 'w'", "\"data_offsets\" is a string \"0\"", "expected [begin, end]");
    }

    @Test
    void dtypeTheFormatDoesNotDefineIsRejectedListingTheKnownOnes() throws IOException {
        SafetensorsFormatException e = openFails("f4.safetensors",
                "{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1);
        assertMessage(e, "f4.safetensors", "tensor 'w'", "dtype \"F4\"", "does not define", "BOOL", "F8_E4M3", "BF16", "U64");
        assertMessage(openFails("lower.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "tensor 'w'", "dtype \"f32\"");
    }

    @Test
    void negativeDimensionIsRejected() throws IOException {
        assertMessage(openFails("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", 0),
                "neg.safetensors", "tensor 'w'", "negative dimension shape[1] = -1");
    }

    @Test
    void dataOffsetsThatAreNotTwoOrderedNonNegativeIntegersAreRejected() throws IOException {
        String[] bad = {"[0]", "[0,4,8]", "[-4,0]", "[8,4]", "[0.0,4]", "[0,\"4\"]", "[0,99999999999999999999]"};
        for (String offsets : bad) {
            SafetensorsFormatException e = openFails("offsets.safetensors",
                    "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + offsets + "}}", 8);
            assertMessage(e, "offsets.safetensors", "tensor 'w'", "data_offsets");
        }
        assertMessage(openFails("order.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,4]}}", 8),
                "[8,4]", "begin <= end");
    }

    @Test
    void dataBeyondTheEndOfTheFileIsRejected() throws IOException {
        SafetensorsFormatException e = openFails("cut.safetensors", safetensors(ONE_TENSOR, 6));
        assertMessage(e, "cut.safetensors", "tensor 'a'", "[0,8]", "the file has " + (8 + 54 + 6) + " bytes",
                "has 6", "truncated");
    }

    @Test
    void byteCountNotMatchingShapeAndDtypeIsRejected() throws IOException {
        SafetensorsFormatException e = openFails("size.safetensors",
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 8);
        assertMessage(e, "size.safetensors", "tensor 'w'", "BF16", "[2, 3]", "takes 12 bytes", "span 8");
    }

    @Test
    void overlappingTensorsAreRejected() throws IOException {
        assertMessage(openFails("overlap.safetensors", "{\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]},"
                        + "\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 12),
                "overlap.safetensors", "tensor 'b'", "[4,12]", "overlap tensor 'a'", "[0,8]");
        // Contained in a big tensor that is not the one just before it in offset order.
        assertMessage(openFails("inside.safetensors", "{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                        + "\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                        + "\"y\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}", 16),
                "inside.safetensors", "tensor 'x'", "overlap tensor 'big'");
    }

    @Test
    void metadataThatIsNotAnObjectOfStringsIsRejected() throws IOException {
        assertMessage(openFails("meta.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0),
                "meta.safetensors", "\"__metadata__\" key 'step' is a number 3", "expected a string");
        assertMessage(openFails("meta2.safetensors", "{\"__metadata__\":[\"pt\"]}", 0),
                "meta2.safetensors", "\"__metadata__\" is an array", "expected an object of strings");
    }
}
