package io.inferstream.jobs.wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding of one generated record class: {@code C3 01}, the writer schema's
 * 8-byte little-endian CRC-64-AVRO fingerprint, then the Avro binary body.
 *
 * <p>Reading resolves the writer schema by fingerprint among the current schema and any older
 * versions registered with {@link #withWriterSchema}, so records written with a released older
 * schema still decode. Encoding always uses the current schema; the bytes are identical to the
 * generated class's own {@code toByteBuffer()}.
 */
public final class SingleObjectCodec<T extends SpecificRecord> implements Serializable {
    private static final long serialVersionUID = 1L;
    static final int HEADER_BYTES = 10;

    private final Class<T> type;
    private final List<String> olderWriterSchemas = new ArrayList<>(); // JSON, for serializability

    private transient SpecificData model;
    private transient Schema readerSchema;
    private transient Map<Long, SpecificDatumReader<T>> readers; // by writer fingerprint
    private transient SpecificDatumWriter<T> writer;
    private transient byte[] header;

    public SingleObjectCodec(Class<T> type) {
        this.type = type;
    }

    public static <T extends SpecificRecord> SingleObjectCodec<T> of(Class<T> type) {
        return new SingleObjectCodec<>(type);
    }

    /** Also accepts records written with {@code older}, an earlier version of this record's schema. */
    public SingleObjectCodec<T> withWriterSchema(Schema older) {
        olderWriterSchemas.add(older.toString());
        readers = null;
        return this;
    }

    public Schema schema() {
        init();
        return readerSchema;
    }

    private void init() {
        if (readers != null) {
            return;
        }
        model = SpecificData.getForClass(type);
        readerSchema = model.getSchema(type);
        Map<Long, SpecificDatumReader<T>> byFingerprint = new HashMap<>();
        byFingerprint.put(SchemaNormalization.parsingFingerprint64(readerSchema),
                new SpecificDatumReader<>(readerSchema, readerSchema, model));
        for (String json : olderWriterSchemas) {
            Schema older = new Schema.Parser().parse(json);
            byFingerprint.put(SchemaNormalization.parsingFingerprint64(older),
                    new SpecificDatumReader<>(older, readerSchema, model));
        }
        writer = new SpecificDatumWriter<>(readerSchema, model);
        header = new byte[HEADER_BYTES];
        header[0] = WireFormat.MAGIC_0;
        header[1] = WireFormat.MAGIC_1;
        long fingerprint = SchemaNormalization.parsingFingerprint64(readerSchema);
        for (int i = 0; i < 8; i++) {
            header[2 + i] = (byte) (fingerprint >>> (8 * i));
        }
        readers = byFingerprint;
    }

    public byte[] encode(T record) {
        init();
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        out.write(header, 0, HEADER_BYTES);
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    public T decode(byte[] payload) throws MalformedRecordException {
        init();
        if (payload.length < HEADER_BYTES || payload[0] != WireFormat.MAGIC_0 || payload[1] != WireFormat.MAGIC_1) {
            throw new MalformedRecordException("not an Avro single-object record: needs C3 01 and an 8-byte"
                    + " fingerprint, got " + payload.length + " bytes");
        }
        long fingerprint = 0;
        for (int i = 7; i >= 0; i--) {
            fingerprint = (fingerprint << 8) | (payload[2 + i] & 0xff);
        }
        SpecificDatumReader<T> reader = readers.get(fingerprint);
        if (reader == null) {
            throw new MalformedRecordException(String.format(
                    "Avro single-object record has unknown schema fingerprint %016x; known %s schemas: %s",
                    fingerprint, readerSchema.getName(), knownFingerprints()));
        }
        BoundedBinaryDecoder in = new BoundedBinaryDecoder(payload, HEADER_BYTES, payload.length - HEADER_BYTES);
        T record;
        try {
            record = reader.read(null, in);
        } catch (IOException | RuntimeException e) {
            throw new MalformedRecordException("Avro body is not a valid " + readerSchema.getName() + ": "
                    + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
        }
        if (in.remaining() != 0) {
            throw new MalformedRecordException("Avro body of " + readerSchema.getName() + " ends at byte "
                    + in.position() + " but the record has " + in.remaining() + " more bytes");
        }
        return record;
    }

    private String knownFingerprints() {
        List<String> hex = new ArrayList<>();
        for (Long f : readers.keySet()) {
            hex.add(String.format("%016x", f));
        }
        return String.join(", ", hex);
    }
}
