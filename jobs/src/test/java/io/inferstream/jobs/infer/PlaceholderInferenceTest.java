package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class PlaceholderInferenceTest {
    @Test
    void resultCarriesTheRequestAndSaysNothingWasComputed() {
        Instant now = Instant.parse("2026-11-28T12:00:00Z");
        InferenceRequest request = SampleRequests.valid("p-1", Task.CLASSIFY).build();
        InferenceResult result = new PlaceholderInference(Clock.fixed(now, ZoneOffset.UTC)).map(request);
        assertEquals("p-1", result.getId());
        assertEquals(Task.CLASSIFY, result.getTask());
        assertEquals(request.getMetadata(), result.getMetadata());
        assertEquals(FinishReason.ERROR, result.getFinishReason());
        assertEquals(PlaceholderInference.ERROR, result.getError());
        assertNull(result.getOutput());
        assertNull(result.getLabel());
        assertEquals(0, result.getCompletionTokens());
        assertEquals(now, result.getCompletedAt());
    }
}
