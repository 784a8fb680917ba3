package io.inferstream.jobs.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.inferstream.jobs.infer.TaskMapping;
import io.inferstream.schema.FinishReason;
import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TaskDateBucketAssignerTest {
    private static InferenceResult resultAt(Task task, String instant) {
        return TaskMapping.failed(SampleRequests.valid("b", task).build(), FinishReason.DEADLINE, "timed out", "m", 0,
                Clock.fixed(Instant.parse(instant), ZoneOffset.UTC));
    }

    @Test
    void bucketIsTaskThenUtcDayOfCompletion() {
        assertEquals("task=CLASSIFY/date=2026-11-28", TaskDateBucketAssigner.bucketOf(resultAt(Task.CLASSIFY, "2026-11-28T00:00:00Z")));
        assertEquals("task=CLASSIFY/date=2026-11-28", TaskDateBucketAssigner.bucketOf(resultAt(Task.CLASSIFY, "2026-11-28T23:59:59.999Z")));
        assertEquals("task=TRANSLATE/date=2026-11-29", TaskDateBucketAssigner.bucketOf(resultAt(Task.TRANSLATE, "2026-11-29T00:00:00Z")));
        assertEquals("task=GENERATE/date=1999-12-31", TaskDateBucketAssigner.bucketOf(resultAt(Task.GENERATE, "1999-12-31T12:00:00Z")));
    }
}
