package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.Digest;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.GenericTypeInfo;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.junit.jupiter.api.Test;

/** The digest job's records between operators and in state use Flink's POJO and Avro serializers, never Kryo. */
class DigestSerializationTest {
    @Test
    void windowsAndFiredWindowsArePojosWithoutGenericFields() throws Exception {
        for (Class<?> type : List.of(DigestWindow.class, FiredWindow.class)) {
            TypeInformation<?> info = TypeInformation.of(type);
            PojoTypeInfo<?> pojo = assertInstanceOf(PojoTypeInfo.class, info, type.getName());
            for (int i = 0; i < pojo.getArity(); i++) {
                assertFalse(pojo.getTypeAt(i) instanceof GenericTypeInfo, type.getSimpleName() + " field " + pojo.getPojoFieldAt(i));
            }
        }
        DigestWindow w = new DigestWindow();
        w.conversationId = "c";
        w.windowStart = 1;
        w.windowEnd = 2;
        w.revision = 3;
        w.part = 1;
        w.parts = 2;
        w.messageIds = new String[] {"m1", "m2"};
        w.transcript = "a: hi\nb: hello";
        DigestWindow back = roundTrip(TypeInformation.of(DigestWindow.class), w);
        assertEquals(w.requestId(), back.requestId());
        assertArrayEquals(w.messageIds, back.messageIds);
        assertEquals(w.transcript, back.transcript);
    }

    @Test
    void chatMessagesAndDigestsUseTheAvroSerializer() throws Exception {
        ChatMessage m = ChatMessage.newBuilder().setId("m1").setConversationId("c").setAuthor("a").setText("hi")
                .setEventTime(Instant.ofEpochMilli(1_768_467_620_819L)).setMetadata(Map.of("client", "web")).build();
        assertInstanceOf(AvroTypeInfo.class, TypeInformation.of(ChatMessage.class));
        assertEquals(m, roundTrip(TypeInformation.of(ChatMessage.class), m));
        Digest d = Digest.newBuilder().setConversationId("c").setWindowStart(Instant.ofEpochMilli(0))
                .setWindowEnd(Instant.ofEpochMilli(60_000)).setRevision(1).setMessageCount(1).setMessageIds(List.of("m1"))
                .setSummary("s").setChunks(1).setPromptTokens(5).setCompletionTokens(2).setQueueMs(1).setComputeMs(2)
                .setModel("m").setCompletedAt(Instant.ofEpochMilli(5)).build();
        assertInstanceOf(AvroTypeInfo.class, TypeInformation.of(Digest.class));
        assertEquals(d, roundTrip(TypeInformation.of(Digest.class), d));
    }

    private static <T> T roundTrip(TypeInformation<T> info, T value) throws Exception {
        TypeSerializer<T> serializer = info.createSerializer(new SerializerConfigImpl());
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(value, out);
        return serializer.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }
}
