package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RevisionsTest {
    private static final long LATENESS = 100;

    @Test
    void firstFiringIsRevisionZeroAndEachRefiringOfTheSameWindowAddsOne() {
        List<FiredWindow> fired = new ArrayList<>();
        assertEquals(0, Revisions.next(fired, 0, 60, 70, LATENESS));
        assertEquals(1, Revisions.next(fired, 0, 60, 80, LATENESS));
        assertEquals(2, Revisions.next(fired, 0, 60, 90, LATENESS));
        assertEquals(1, fired.size(), "one entry per window");
    }

    @Test
    void aSessionThatMergedFiredSessionsContinuesTheirHighestRevision() {
        List<FiredWindow> fired = new ArrayList<>();
        assertEquals(0, Revisions.next(fired, 0, 60, 200, LATENESS));   // [0, 60)
        assertEquals(0, Revisions.next(fired, 70, 130, 200, LATENESS)); // [70, 130): a separate session
        assertEquals(1, Revisions.next(fired, 70, 130, 201, LATENESS));
        // a late message at 55 bridges both sessions: [0, 130) replaces them
        assertEquals(2, Revisions.next(fired, 0, 130, 202, LATENESS));
        assertEquals(1, fired.size());
        assertEquals(0, fired.get(0).start);
        assertEquals(130, fired.get(0).end);
    }

    @Test
    void windowsWhoseLatenessRanOutAreForgottenAndANewWindowThereStartsAtZero() {
        List<FiredWindow> fired = new ArrayList<>();
        assertEquals(0, Revisions.next(fired, 0, 60, 70, LATENESS));
        // watermark 159 = end − 1 + lateness: Flink has purged [0, 60); a different window fires
        assertEquals(0, Revisions.next(fired, 200, 260, 270, LATENESS));
        assertEquals(1, fired.size(), "the purged window is no longer tracked: " + fired);
        assertEquals(200, fired.get(0).start);
    }

    @Test
    void aPurgedWindowIsForgottenAtExactlyItsCleanupTime() {
        List<FiredWindow> fired = new ArrayList<>();
        Revisions.next(fired, 0, 60, 70, LATENESS);
        Revisions.next(fired, 70, 130, 130, LATENESS);
        // Flink purges [0, 60) once the watermark reaches 59 + 100
        assertEquals(false, Revisions.forgetPurged(fired, 158, LATENESS));
        assertEquals(2, fired.size());
        assertEquals(true, Revisions.forgetPurged(fired, 159, LATENESS));
        assertEquals(1, fired.size());
        assertEquals(70, fired.get(0).start);
        assertEquals(true, Revisions.forgetPurged(fired, 229, LATENESS));
        assertEquals(List.of(), fired);
    }
}
