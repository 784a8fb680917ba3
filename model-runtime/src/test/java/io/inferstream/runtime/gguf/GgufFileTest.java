package io.inferstream.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.testing.SharedModels;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {

    @TempDir
    Path dir;

    private static GgufArray array(GgufValueType t, Object... values) {
        return new GgufArray(t, List.of(values));
    }

    private Path write(GgufWriter w, String name) {
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    /** A small valid file with metadata and two F32 tensors, used as the base of the corruption cases. */
    private static GgufWriter twoTensorModel() {
        return new GgufWriter()
                .putString("general.architecture", "llama")
                .putUInt32("llama.embedding_length", 4)
                .putStringArray("tokenizer.ggml.tokens", "a", "b", "c")
                .addTensor("first.weight", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)
                .addTensor("second.weight", new float[] {9, 10, 11}, 3);
    }

    @Test
    void everyValueTypeRoundTripsWithDocumentedBoxing() {
        GgufArray nested = array(GgufValueType.ARRAY,
                array(GgufValueType.INT32, 1, 2, 3),
                array(GgufValueType.INT32),
                array(GgufValueType.INT32, -7));
        GgufArray nestedStrings = array(GgufValueType.ARRAY,
                array(GgufValueType.ARRAY, array(GgufValueType.STRING, "deep", "ünïcode ▁x")));
        GgufWriter w = new GgufWriter()
                .putUInt8("u8", 255)
                .putInt8("i8", (byte) -128)
                .putUInt16("u16", 65535)
                .putInt16("i16", (short) -32768)
                .putUInt32("u32", 4294967295L)
                .putInt32("i32", Integer.MIN_VALUE)
                .putUInt64("u64", Long.MAX_VALUE)
                .put("u64.huge", GgufValueType.UINT64, new BigInteger("18446744073709551615"))
                .putInt64("i64", Long.MIN_VALUE)
                .putFloat32("f32", 1.5e-7f)
                .putFloat64("f64", Math.PI)
                .putBool("yes", true)
                .putBool("no", false)
                .putString("s", "héllo ▁wörld")
                .putString("empty", "")
                .putArray("a.u8", array(GgufValueType.UINT8, 0, 200, 255))
                .putArray("a.bool", array(GgufValueType.BOOL, true, false))
                .putArray("a.f64", array(GgufValueType.FLOAT64, 0.25, -1e300))
                .putFloatArray("a.f32", 1f, -2.5f)
                .putArray("a.nested", nested)
                .putArray("a.nested.strings", nestedStrings)
                .putArray("a.empty", array(GgufValueType.STRING));
        try (GgufFile f = GgufFile.open(write(w, "all.gguf"))) {
            assertEquals(3, f.version());
            assertEquals(255, f.get("u8"));
            assertEquals((byte) -128, f.get("i8"));
            assertEquals(65535, f.get("u16"));
            assertEquals((short) -32768, f.get("i16"));
            assertEquals(4294967295L, f.get("u32"));
            assertEquals(Integer.MIN_VALUE, f.get("i32"));
            assertEquals(Long.MAX_VALUE, f.get("u64"));
            assertEquals(new BigInteger("18446744073709551615"), f.get("u64.huge"));
            assertEquals(Long.MIN_VALUE, f.get("i64"));
            assertEquals(1.5e-7f, f.get("f32"));
            assertEquals(Math.PI, f.get("f64"));
            assertEquals(true, f.get("yes"));
            assertEquals(false, f.get("no"));
            assertEquals("héllo ▁wörld", f.get("s"));
            assertEquals("", f.get("empty"));
            assertEquals(array(GgufValueType.UINT8, 0, 200, 255), f.get("a.u8"));
            assertEquals(array(GgufValueType.BOOL, true, false), f.get("a.bool"));
            assertEquals(array(GgufValueType.FLOAT64, 0.25, -1e300), f.get("a.f64"));
            assertEquals(nested, f.get("a.nested"));
            assertEquals(nestedStrings, f.get("a.nested.strings"));
            assertEquals(array(GgufValueType.STRING), f.get("a.empty"));
            assertArrayEquals(new float[] {1f, -2.5f}, f.getFloatArray("a.f32"));
            assertEquals(GgufValueType.UINT32, f.typeOf("u32"));
            assertEquals(List.of("u8", "i8", "u16", "i16", "u32", "i32", "u64", "u64.huge", "i64", "f32", "f64",
                    "yes", "no", "s", "empty", "a.u8", "a.bool", "a.f64", "a.f32", "a.nested", "a.nested.strings",
                    "a.empty"), List.copyOf(f.keys()));
            assertTrue(f.tensors().isEmpty());
        }
    }

    @Test
    void typedGettersCoerceIntegerWidthsAndUseDefaultsOnlyWhenAbsent() {
        GgufWriter w = new GgufWriter()
                .putUInt8("u8", 200)
                .putUInt32("u32", 3_000_000_000L)
                .putInt64("i64", 12)
                .putInt16("i16", (short) -5)
                .putFloat64("f64", 0.5)
                .putUInt32("int.as.float", 10000)
                .putArray("ids", array(GgufValueType.UINT8, 1, 2, 255))
                .putArray("scores", array(GgufValueType.FLOAT64, 0.5, -1.25));
        try (GgufFile f = GgufFile.open(write(w, "typed.gguf"))) {
            assertEquals(200, f.getInt("u8"));
            assertEquals(12, f.getInt("i64"));
            assertEquals(-5, f.getInt("i16"));
            assertEquals(3_000_000_000L, f.getLong("u32"));
            assertEquals(0.5f, f.getFloat("f64"));
            assertEquals(10000f, f.getFloat("int.as.float"));
            assertArrayEquals(new int[] {1, 2, 255}, f.getIntArray("ids"));
            assertArrayEquals(new float[] {0.5f, -1.25f}, f.getFloatArray("scores"));
            assertEquals(42, f.getInt("absent", 42));
            assertEquals(200, f.getInt("u8", 42));
            assertEquals("x", f.getString("absent", "x"));
            assertEquals(7L, f.getLong("absent", 7L));
            assertEquals(1e-5f, f.getFloat("absent", 1e-5f));
            assertTrue(f.getBoolean("absent", true));
            assertFalse(f.has("absent"));

            GgufFormatException tooBig = assertThrows(GgufFormatException.class, () -> f.getInt("u32"));
            assertMessage(tooBig, "typed.gguf", "'u32'", "UINT32 3000000000", "int range");
            GgufFormatException missing = assertThrows(GgufFormatException.class, () -> f.getString("general.name"));
            assertMessage(missing, "typed.gguf", "'general.name'", "missing", "string");
            GgufFormatException wrong = assertThrows(GgufFormatException.class, () -> f.getString("u8"));
            assertMessage(wrong, "'u8'", "UINT8 200", "expected a string");
            GgufFormatException wrongDefault = assertThrows(GgufFormatException.class, () -> f.getBoolean("u8", false));
            assertMessage(wrongDefault, "'u8'", "bool");
            GgufFormatException notStrings = assertThrows(GgufFormatException.class, () -> f.getStringArray("ids"));
            assertMessage(notStrings, "'ids'", "array of UINT8", "array of strings");
            GgufFormatException notArray = assertThrows(GgufFormatException.class, () -> f.getIntArray("u8"));
            assertMessage(notArray, "'u8'", "array of integers");
        }
    }

    @Test
    void tensorsKeepFileOrderShapesAndAlignedData() {
        float[] big = new float[96];
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.5f - 3;
        }
        GgufWriter w = new GgufWriter()
                .alignment(64)
                .addTensor("z.first", new float[] {1, 2, 3}, 3)
                .addTensor("a.second", big, 32, 3)
                .addTensor("m.third", GgmlType.Q8_0, new long[] {64, 2}, new byte[4 * 34]);
        try (GgufFile f = GgufFile.open(write(w, "tensors.gguf"))) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataStart() % 64);
            assertEquals(List.of("z.first", "a.second", "m.third"), List.copyOf(f.tensors().keySet()));
            GgufTensorInfo second = f.tensor("a.second");
            assertEquals(GgmlType.F32, second.type());
            assertArrayEquals(new long[] {32, 3}, second.shape());
            assertEquals(96, second.elementCount());
            assertEquals(384, second.byteSize());
            assertEquals(64, second.offset()); // 12 bytes of z.first padded to 64
            GgufTensorInfo third = f.tensor("m.third");
            assertEquals(136, third.byteSize());
            assertEquals(64 + 384, third.offset());

            ByteBuffer data = f.tensorData("a.second");
            assertTrue(data.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, data.order());
            assertEquals(384, data.remaining());
            float[] read = new float[96];
            data.asFloatBuffer().get(read);
            assertArrayEquals(big, read);

            GgufFormatException missing = assertThrows(GgufFormatException.class, () -> f.tensor("output.weight"));
            assertMessage(missing, "tensors.gguf", "'output.weight'", "missing");
        }
    }

    @Test
    void defaultAlignmentIs32AndVersion2IsAccepted() throws IOException {
        byte[] bytes = twoTensorModel().toByteArray();
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 2);
        Path p = dir.resolve("v2.gguf");
        Files.write(p, bytes);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(2, f.version());
            assertEquals(32, f.alignment());
            assertEquals(32, f.tensor("second.weight").offset());
            assertEquals(10f, f.tensorData("second.weight").getFloat(4));
        }
    }

    @Test
    void readsLlamaSentencePieceVocabulary() {
        Path p = SharedModels.require("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(3, f.version());
            assertEquals("llama", f.getString("tokenizer.ggml.model"));
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            assertEquals(32000, tokens.length);
            // Llama 2's vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3.. byte tokens, 259 is the first merge "▁▁".
            assertEquals("<unk>", tokens[0]);
            assertEquals("<s>", tokens[1]);
            assertEquals("</s>", tokens[2]);
            assertEquals("<0x00>", tokens[3]);
            assertEquals("<0xFF>", tokens[258]);
            assertEquals(32000, f.getFloatArray("tokenizer.ggml.scores").length);
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            assertEquals(32000, types.length);
            assertEquals(2, types[0]); // UNKNOWN
            assertEquals(3, types[1]); // CONTROL
            assertEquals(6, types[3]); // BYTE
            assertEquals(1, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(2, f.getInt("tokenizer.ggml.eos_token_id"));
            assertTrue(f.tensors().isEmpty());
        }
    }

    @Test
    void readsStories260KAndItsWeightsMatchTheLlama2cCheckpoint() throws IOException {
        Path p = SharedModels.require("stories260K/stories260K.gguf");
        Path bin = SharedModels.require("stories260K/stories260K.bin");
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(48, f.tensors().size());
            for (GgufTensorInfo t : f.tensors().values()) {
                assertEquals(GgmlType.F32, t.type(), t.name());
            }
            assertEquals("llama", f.getString("general.architecture"));
            assertEquals(64, f.getInt("llama.embedding_length"));
            assertEquals(172, f.getInt("llama.feed_forward_length"));
            assertEquals(5, f.getInt("llama.block_count"));
            assertEquals(8, f.getInt("llama.attention.head_count"));
            assertEquals(4, f.getInt("llama.attention.head_count_kv"));
            assertEquals(512, f.getStringArray("tokenizer.ggml.tokens").length);
            GgufTensorInfo emb = f.tensor("token_embd.weight");
            assertArrayEquals(new long[] {64, 512}, emb.shape());

            // llama2.c checkpoint: 7 int32 header, then token_embedding_table [512, 64] as float32.
            ByteBuffer ckpt = ByteBuffer.wrap(Files.readAllBytes(bin)).order(ByteOrder.LITTLE_ENDIAN);
            ckpt.position(28);
            float[] expected = new float[512 * 64];
            ckpt.asFloatBuffer().get(expected);
            float[] actual = new float[512 * 64];
            f.tensorData("token_embd.weight").asFloatBuffer().get(actual);
            assertArrayEquals(expected, actual);
        }
    }

    // ------------------------------------------------------------ corruption cases

    private GgufFormatException openFails(byte[] bytes, String name) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close());
    }

    private static void assertMessage(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    /** Index just after the tensor-info name {@code name} (where n_dims starts). */
    private static int afterName(byte[] bytes, String name) {
        byte[] needle = name.getBytes(StandardCharsets.UTF_8);
        outer:
        for (int i = 0; i + needle.length <= bytes.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (bytes[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i + needle.length;
        }
        throw new AssertionError(name + " not found");
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void badMagicIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        b[0] = 'X';
        assertMessage(openFails(b, "magic.gguf"), "magic.gguf", "not a GGUF file", "magic");
    }

    @Test
    void versionOneAndUnknownVersionsAreRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        le(b).putInt(4, 1);
        assertMessage(openFails(b, "v1.gguf"), "v1.gguf", "version 1 is not supported");
        le(b).putInt(4, 4);
        assertMessage(openFails(b, "v4.gguf"), "unsupported GGUF version 4", "expected 2 or 3");
        ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN).putInt(4, 3);
        assertMessage(openFails(b, "be.gguf"), "big-endian", "little-endian");
    }

    @Test
    void everyTruncationIsAFormatErrorNeverAnotherException() throws IOException {
        byte[] good = twoTensorModel().toByteArray();
        int end = good.length - 20; // the last tensor's 12 bytes end 20 bytes before the writer's final padding
        try (GgufFile f = GgufFile.open(Files.write(dir.resolve("unpadded.gguf"), java.util.Arrays.copyOf(good, end)))) {
            assertEquals(11f, f.tensorData("second.weight").getFloat(8)); // trailing padding is optional
        }
        for (int len = 0; len < end; len++) {
            byte[] cut = java.util.Arrays.copyOf(good, len);
            GgufFormatException e = openFails(cut, "cut.gguf");
            assertMessage(e, "cut.gguf");
            assertTrue(e.getMessage().contains("truncated"), "length " + len + ": " + e.getMessage());
        }
    }

    @Test
    void stringLengthBeyondTheFileIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        // first metadata key length is at offset 24 (magic, version, two uint64 counts)
        le(b).putLong(24, 1L << 40);
        assertMessage(openFails(b, "strlen.gguf"), "strlen.gguf", "truncated", "metadata key #0", "string length");
    }

    @Test
    void unknownValueTypeIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        int typePos = afterName(b, "general.architecture");
        le(b).putInt(typePos, 13);
        assertMessage(openFails(b, "vtype.gguf"), "'general.architecture'", "unknown value type 13");
    }

    @Test
    void unknownTensorTypeIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        int pos = afterName(b, "second.weight");
        le(b).putInt(pos + 4 + 8, 4); // type id 4 (removed Q4_2)
        assertMessage(openFails(b, "ttype.gguf"), "'second.weight'", "unknown ggml type id 4");
    }

    @Test
    void nonPositiveDimensionIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        int pos = afterName(b, "first.weight");
        le(b).putLong(pos + 4 + 8, 0); // ne[1]
        assertMessage(openFails(b, "dim.gguf"), "'first.weight'", "ne[1] = 0", "expected > 0");
    }

    @Test
    void tensorDataBeyondTheEndIsRejected() throws IOException {
        byte[] good = twoTensorModel().toByteArray();
        byte[] cut = java.util.Arrays.copyOf(good, good.length - 20 - 4); // second.weight has 12 bytes + 20 padding
        assertMessage(openFails(cut, "data.gguf"), "data.gguf", "'second.weight'", "beyond the end of the file");
    }

    @Test
    void misalignedOffsetIsRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        int pos = afterName(b, "second.weight");
        le(b).putLong(pos + 4 + 8 + 4, 36);
        assertMessage(openFails(b, "align.gguf"), "'second.weight'", "offset 36", "alignment 32");
    }

    @Test
    void overlappingTensorsAreRejected() throws IOException {
        byte[] b = twoTensorModel().toByteArray();
        int pos = afterName(b, "second.weight");
        le(b).putLong(pos + 4 + 8 + 4, 0); // second now starts inside first (32 bytes at offset 0)
        assertMessage(openFails(b, "overlap.gguf"), "overlaps", "'first.weight'", "'second.weight'");
    }

    @Test
    void unsupportedButKnownTypesLoadInTheIndex() {
        GgufWriter w = new GgufWriter().addTensor("iq2", GgmlType.IQ2_XXS, new long[] {256, 2}, new byte[2 * 66]);
        try (GgufFile f = GgufFile.open(write(w, "iq2.gguf"))) {
            assertEquals(GgmlType.IQ2_XXS, f.tensor("iq2").type());
            assertFalse(GgmlType.IQ2_XXS.supported());
            assertEquals(132, f.tensorData("iq2").remaining());
        }
    }

    @Test
    void filesOver2GiBMapTensorsBeyond2GiBAndRejectHugeTensorsClearly() throws IOException {
        // A sparse file: "huge" is declared as 2^30 F32 (4 GiB); "tail" lies after it, past the 4 GiB mark.
        byte[] b = new GgufWriter()
                .addTensor("huge", new float[8], 8)
                .addTensor("tail", new float[] {42f, -1f}, 2)
                .toByteArray();
        int hugePos = afterName(b, "huge");
        le(b).putLong(hugePos + 4, 1L << 30);
        int tailPos = afterName(b, "tail");
        long tailOffset = 4L << 30;
        le(b).putLong(tailPos + 4 + 8 + 4, tailOffset);
        int headerEnd = tailPos + 4 + 8 + 4 + 8;
        long dataStart = (headerEnd + 31) / 32 * 32;
        Path p = dir.resolve("sparse.gguf");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.write(b, 0, headerEnd);
            raf.setLength(dataStart + tailOffset + 32);
            raf.seek(dataStart + tailOffset);
            byte[] tail = new byte[8];
            le(tail).putFloat(0, 42f).putFloat(4, -1f);
            raf.write(tail);
        }
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(Map.of("huge", 4L << 30, "tail", 8L),
                    Map.of("huge", f.tensor("huge").byteSize(), "tail", f.tensor("tail").byteSize()));
            assertEquals(42f, f.tensorData("tail").getFloat(0));
            assertEquals(-1f, f.tensorData("tail").getFloat(4));
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> f.tensorData("huge"));
            assertMessage(e, "sparse.gguf", "'huge'", "2 GiB");
        } finally {
            Files.deleteIfExists(p);
        }
    }
}
