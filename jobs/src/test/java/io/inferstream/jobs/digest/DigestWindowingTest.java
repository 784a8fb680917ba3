package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DigestWindowingTest {
    private static DigestWindowing of(WindowKind kind, long sizeMs, long latenessMs) {
        return new DigestWindowing(kind, Duration.ofMillis(sizeMs), Duration.ofMillis(latenessMs), Duration.ofSeconds(30),
                Duration.ZERO, 100);
    }

    @Test
    void aLoneMessagesWindowEndsOneGapLaterOrAtItsTumblingBoundary() {
        assertEquals(1_060_000, of(WindowKind.SESSION, 60_000, 0).windowEndOf(1_000_000));
        // 15-minute tumbling windows are aligned to the epoch: 09:07 falls in [09:00, 09:15)
        long t = java.time.Instant.parse("2026-01-15T09:07:00Z").toEpochMilli();
        assertEquals(java.time.Instant.parse("2026-01-15T09:15:00Z").toEpochMilli(),
                of(WindowKind.TUMBLING, 900_000, 0).windowEndOf(t));
    }

    @Test
    void latenessIsMeasuredFromTheLastWatermarkThatStillAcceptedTheMessage() {
        DigestWindowing w = of(WindowKind.SESSION, 60_000, 120_000);
        // the session [45 s, 105 s) accepts late data while watermark < 105 s − 1 ms + 120 s
        assertEquals(0, w.lateByBeyondLateness(45_000, 224_999));
        assertEquals(80_000, w.lateByBeyondLateness(45_000, 304_999));
    }

    @Test
    void windowKindsParseInAnyCaseAndBadSettingsNameTheSetting() {
        assertEquals(WindowKind.SESSION, WindowKind.parse("session"));
        assertEquals(WindowKind.TUMBLING, WindowKind.parse("Tumbling"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WindowKind.parse("sliding")).getMessage().contains("sliding"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> of(WindowKind.SESSION, 0, 0)).getMessage().contains("gap"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DigestWindowing(WindowKind.TUMBLING,
                Duration.ofMinutes(1), Duration.ZERO, Duration.ZERO, Duration.ZERO, 0)).getMessage().contains("max messages"));
    }
}
