package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.inferstream.jobs.decode.DecodeRequestsFunction;
import io.inferstream.jobs.infer.TaskMapping;
import io.inferstream.runtime.tasks.TaskResult;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import io.inferstream.jobs.source.RawRecord;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.junit.jupiter.api.Test;

/**
 * The records that flow between operators use Flink's own serializers (POJO, Avro), never the
 * Kryo fallback, which is slow and breaks state compatibility, and they survive the trip intact.
 */
class FlinkSerializationTest {
    @Test
    void rawRecordIsAFlinkPojo() throws Exception {
        TypeInformation<RawRecord> info = TypeInformation.of(RawRecord.class);
        assertInstanceOf(PojoTypeInfo.class, info);
        RawRecord in = RawRecord.fromKafka("t", 1, 42L, 7L, new byte[] {1, 2, (byte) 0xC3});
        RawRecord out = roundTrip(info, in);
        assertArrayEquals(in.payload, out.payload);
        assertEquals(in.origin().toString(), out.origin().toString());
        assertEquals(7L, out.timestamp);
    }

    @Test
    void schemaRecordsUseTheAvroSerializer() throws Exception {
        InferenceRequest request = SampleRequests.valid("f", Task.GENERATE).build();
        assertInstanceOf(AvroTypeInfo.class, TypeInformation.of(InferenceRequest.class));
        assertEquals(request, roundTrip(TypeInformation.of(InferenceRequest.class), request));
        TaskResult answer = new TaskResult("f", io.inferstream.runtime.tasks.Task.CLASSIFY, "a", "a", List.of("a"),
                Map.of("a", 0.75, "b", 0.25), 17, 0, io.inferstream.runtime.engine.FinishReason.STOP, null, "m", 1.0, 2.0, 3, 1,
                Map.of());
        InferenceResult result = TaskMapping.toResult(request, answer, Clock.systemUTC());
        assertEquals(result, roundTrip(TypeInformation.of(InferenceResult.class), result));
        assertInstanceOf(AvroTypeInfo.class, DecodeRequestsFunction.DEAD_LETTERS.getTypeInfo());
    }

    private static <T> T roundTrip(TypeInformation<T> info, T value) throws Exception {
        TypeSerializer<T> serializer = info.createSerializer(new SerializerConfigImpl());
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(value, out);
        return serializer.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }
}
