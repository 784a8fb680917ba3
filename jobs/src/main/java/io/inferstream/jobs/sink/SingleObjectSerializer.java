package io.inferstream.jobs.sink;

import io.inferstream.jobs.wire.SingleObjectCodec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;

/** Writes each record as Avro single-object bytes (the format {@link io.inferstream.jobs.wire.WireDecoder} reads). */
public final class SingleObjectSerializer<T extends SpecificRecord> implements SerializationSchema<T> {
    private static final long serialVersionUID = 1L;
    private final SingleObjectCodec<T> codec;

    public SingleObjectSerializer(Class<T> type) {
        this.codec = SingleObjectCodec.of(type);
    }

    @Override
    public byte[] serialize(T element) {
        return codec.encode(element);
    }
}
