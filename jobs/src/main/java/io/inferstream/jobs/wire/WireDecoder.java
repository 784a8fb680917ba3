package io.inferstream.jobs.wire;

import java.io.Serializable;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;

/**
 * Reads one record of a generated class from either wire format, detected per record
 * ({@link WireFormat#detect}).
 */
public final class WireDecoder<T extends SpecificRecord> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final SingleObjectCodec<T> avro;
    private final JsonRecordCodec<T> json;

    public WireDecoder(Class<T> type) {
        this.avro = SingleObjectCodec.of(type);
        this.json = JsonRecordCodec.of(type);
    }

    public static <T extends SpecificRecord> WireDecoder<T> of(Class<T> type) {
        return new WireDecoder<>(type);
    }

    /** Also accepts Avro records written with an older released version of the schema. */
    public WireDecoder<T> withWriterSchema(Schema older) {
        avro.withWriterSchema(older);
        return this;
    }

    public T decode(byte[] payload) throws MalformedRecordException {
        WireFormat format = WireFormat.detect(payload);
        return format == WireFormat.AVRO_SINGLE_OBJECT ? avro.decode(payload) : json.decode(payload);
    }
}
