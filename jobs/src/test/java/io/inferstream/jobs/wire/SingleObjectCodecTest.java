package io.inferstream.jobs.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.Task;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

class SingleObjectCodecTest {
    private final SingleObjectCodec<InferenceRequest> codec = SingleObjectCodec.of(InferenceRequest.class);

    @Test
    void encodingIsByteIdenticalToAvrosReferenceEncoder() throws Exception {
        for (Task task : Task.values()) {
            InferenceRequest request = SampleRequests.valid("id-" + task, task).build();
            ByteBuffer reference = request.toByteBuffer(); // Avro's BinaryMessageEncoder
            byte[] expected = new byte[reference.remaining()];
            reference.get(expected);
            assertArrayEquals(expected, codec.encode(request), task.name());
        }
    }

    @Test
    void headerIsMagicThenLittleEndianFingerprint() {
        byte[] bytes = codec.encode(SampleRequests.valid("a", Task.GENERATE).build());
        assertEquals((byte) 0xC3, bytes[0]);
        assertEquals((byte) 0x01, bytes[1]);
        long fingerprint = SchemaNormalization.parsingFingerprint64(InferenceRequest.getClassSchema());
        assertEquals(fingerprint, ByteBuffer.wrap(bytes, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
    }

    @Test
    void decodesWhatAvrosReferenceEncoderWrote() throws Exception {
        for (Task task : Task.values()) {
            InferenceRequest request = SampleRequests.valid("id-" + task, task).build();
            ByteBuffer reference = request.toByteBuffer();
            byte[] bytes = new byte[reference.remaining()];
            reference.get(bytes);
            assertEquals(request, codec.decode(bytes));
        }
    }

    @Test
    void deadLetterBytesSurviveARoundTrip() throws Exception {
        byte[] payload = {0, (byte) 0xFF, 0x7F, (byte) 0xC3, 0x01};
        DeadLetter letter = DeadLetter.newBuilder().setPayload(ByteBuffer.wrap(payload)).setReason("r")
                .setSourceTopic("t").setSourcePartition(3).setSourceOffset(99L).setFailedAt(Instant.ofEpochMilli(5)).build();
        SingleObjectCodec<DeadLetter> deadLetters = SingleObjectCodec.of(DeadLetter.class);
        DeadLetter back = deadLetters.decode(deadLetters.encode(letter));
        assertEquals(letter, back);
        assertArrayEquals(payload, back.getPayload().array());
    }

    @Test
    void readsRecordsWrittenWithARegisteredOlderSchemaOnlyOnceRegistered() throws Exception {
        // An "older" schema: today's without the 'instruction' and 'model' fields.
        Schema current = InferenceRequest.getClassSchema();
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : current.getFields()) {
            if (!f.name().equals("instruction") && !f.name().equals("model")) {
                fields.add(new Schema.Field(f, f.schema()));
            }
        }
        Schema older = Schema.createRecord(current.getName(), null, current.getNamespace(), false, fields);
        GenericRecord old = new GenericData.Record(older);
        old.put("id", "old-1");
        old.put("task", new GenericData.EnumSymbol(older.getField("task").schema(), "SUMMARIZE"));
        old.put("text", "written by an old producer");
        old.put("labels", List.of());
        old.put("metadata", java.util.Map.of("k", "v"));
        old.put("created_at", 1_700_000_000_000L);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new BinaryMessageEncoder<GenericRecord>(GenericData.get(), older).encode(old, out);
        byte[] bytes = out.toByteArray();

        MalformedRecordException unknown = assertThrows(MalformedRecordException.class, () -> codec.decode(bytes));
        assertTrue(unknown.getMessage().contains("unknown schema fingerprint"), unknown.getMessage());

        InferenceRequest read = SingleObjectCodec.of(InferenceRequest.class).withWriterSchema(older).decode(bytes);
        assertEquals("old-1", read.getId());
        assertEquals(Task.SUMMARIZE, read.getTask());
        assertEquals("written by an old producer", read.getText());
        assertEquals(null, read.getModel()); // the new field's default
        assertEquals(Instant.ofEpochMilli(1_700_000_000_000L), read.getCreatedAt());
    }

    @Test
    void hugeLengthPrefixIsRejectedNotAllocated() {
        byte[] header = Arrays.copyOf(codec.encode(SampleRequests.valid("a", Task.GENERATE).build()), 10);
        // id length as zig-zag varint of 2^30: claims a 1 GiB string in a 15-byte record
        byte[] bytes = Arrays.copyOf(header, 15);
        long zigzag = (1L << 30) << 1;
        for (int i = 10; i < 15; i++) {
            bytes[i] = (byte) ((zigzag & 0x7f) | (i < 14 ? 0x80 : 0));
            zigzag >>>= 7;
        }
        MalformedRecordException e = assertThrows(MalformedRecordException.class, () -> codec.decode(bytes));
        assertTrue(e.getMessage().contains("string length 1073741824") && e.getMessage().contains("exceeds"),
                e.getMessage());
    }

    @Test
    void invalidUtf8InAStringIsRejected() {
        byte[] bytes = codec.encode(SampleRequests.valid("a", Task.GENERATE).setText("abc").build());
        byte[] marker = "abc".getBytes(StandardCharsets.UTF_8);
        for (int i = 10; i + 3 <= bytes.length; i++) {
            if (bytes[i] == marker[0] && bytes[i + 1] == marker[1] && bytes[i + 2] == marker[2]) {
                bytes[i + 1] = (byte) 0xE2; // a 3-byte lead followed by 'c' and more: malformed
                break;
            }
        }
        MalformedRecordException e = assertThrows(MalformedRecordException.class, () -> codec.decode(bytes));
        assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }

    @Test
    void truncatedAndPaddedRecordsAreRejected() {
        byte[] bytes = codec.encode(SampleRequests.valid("a", Task.CLASSIFY).build());
        for (int cut = 10; cut < bytes.length; cut++) {
            byte[] truncated = Arrays.copyOf(bytes, cut);
            assertThrows(MalformedRecordException.class, () -> codec.decode(truncated), "cut at " + cut);
        }
        MalformedRecordException e = assertThrows(MalformedRecordException.class,
                () -> codec.decode(Arrays.copyOf(bytes, bytes.length + 2)));
        assertTrue(e.getMessage().contains("2 more bytes"), e.getMessage());
    }
}
