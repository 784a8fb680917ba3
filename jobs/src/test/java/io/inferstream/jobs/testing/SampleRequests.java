package io.inferstream.jobs.testing;

import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.SamplingOptions;
import io.inferstream.schema.Task;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Valid requests for tests, one per task, built field by field so a test can break one field. */
public final class SampleRequests {
    public static final Instant CREATED_AT = Instant.parse("2026-11-28T10:15:30.123Z");

    private SampleRequests() {
    }

    public static InferenceRequest.Builder valid(String id, Task task) {
        InferenceRequest.Builder b = InferenceRequest.newBuilder()
                .setId(id)
                .setTask(task)
                .setText("The quick brown fox jumps over the lazy dog. Grüße, 世界!")
                .setMetadata(Map.of("source", "test", "id", id))
                .setCreatedAt(CREATED_AT);
        switch (task) {
            case CLASSIFY:
                b.setLabels(List.of("positive", "negative", "neutral"));
                break;
            case TRANSLATE:
                b.setSourceLanguage("en").setTargetLanguage("de");
                break;
            case GENERATE:
                b.setMaxNewTokens(32).setSampling(SamplingOptions.newBuilder()
                        .setTemperature(0.7).setTopK(40).setTopP(0.9).setMinP(0.05)
                        .setRepetitionPenalty(1.1).setSeed(42L).setNumBeams(1).build());
                break;
            default:
                b.setInstruction("Summarize in one sentence.");
                break;
        }
        return b;
    }

    /** Cycles through the four tasks by {@code n}. */
    public static Task taskFor(int n) {
        return Task.values()[n % Task.values().length];
    }
}
