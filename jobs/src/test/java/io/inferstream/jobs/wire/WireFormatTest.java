package io.inferstream.jobs.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.Task;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class WireFormatTest {
    @Test
    void detectsEachFormatFromItsFirstBytes() throws Exception {
        InferenceRequest r = SampleRequests.valid("a", Task.SUMMARIZE).build();
        assertEquals(WireFormat.AVRO_SINGLE_OBJECT, WireFormat.detect(SingleObjectCodec.of(InferenceRequest.class).encode(r)));
        assertEquals(WireFormat.JSON, WireFormat.detect(JsonRecordCodec.of(InferenceRequest.class).encode(r)));
        assertEquals(WireFormat.JSON, WireFormat.detect(" \n\t{}".getBytes(StandardCharsets.UTF_8)));
        assertEquals(WireFormat.JSON, WireFormat.detect(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '{', '}'}));
    }

    @Test
    void anythingElseIsRejectedWithTheOffendingByte() {
        MalformedRecordException e = assertThrows(MalformedRecordException.class,
                () -> WireFormat.detect("[1,2]".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("0x5B at offset 0"), e.getMessage());
        assertThrows(MalformedRecordException.class, () -> WireFormat.detect(new byte[0]));
        assertThrows(MalformedRecordException.class, () -> WireFormat.detect(new byte[] {(byte) 0xC3}));
        assertThrows(MalformedRecordException.class, () -> WireFormat.detect("   ".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void decoderPicksTheFormatPerRecord() throws Exception {
        WireDecoder<InferenceRequest> decoder = WireDecoder.of(InferenceRequest.class);
        InferenceRequest r = SampleRequests.valid("mixed", Task.TRANSLATE).build();
        assertEquals(r, decoder.decode(SingleObjectCodec.of(InferenceRequest.class).encode(r)));
        assertEquals(r, decoder.decode(JsonRecordCodec.of(InferenceRequest.class).encode(r)));
    }
}
