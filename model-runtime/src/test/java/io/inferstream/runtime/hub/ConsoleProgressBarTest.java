package io.inferstream.runtime.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

class ConsoleProgressBarTest {

    private static final long MIB = 1024 * 1024;
    private static final long MS = 1_000_000;

    @Test
    void lineShowsPercentMibRateAndEta() {
        // 2 of 4 MiB at 1 MiB/s: 50%, 2 s left
        assertEquals("m.gguf   50% 2.0/4.0 MiB  1.0 MiB/s  ETA 0:02", ConsoleProgressBar.line("m.gguf", 2 * MIB, 4 * MIB, MIB));
        // 100 MiB left at 0.5 MiB/s: 200 s = 3:20
        assertEquals("m.gguf    0% 0.0/100.0 MiB  0.5 MiB/s  ETA 3:20", ConsoleProgressBar.line("m.gguf", 0, 100 * MIB, MIB / 2.0));
        assertEquals("m.gguf  3.0 MiB  1.5 MiB/s", ConsoleProgressBar.line("m.gguf", 3 * MIB, -1, 1.5 * MIB));
        assertEquals("1:01:01", ConsoleProgressBar.clock(3661));
    }

    @Test
    void terminalBarRedrawsOneLineAtMostFiveTimesASecond() {
        StringWriter text = new StringWriter();
        AtomicLong now = new AtomicLong();
        ConsoleProgressBar bar = new ConsoleProgressBar(new PrintWriter(text), true, now::get);

        bar.start("m.gguf", 0, 100 * MIB);
        for (int i = 1; i <= 100; i++) { // one update every 10 ms for one second
            now.set(i * 10 * MS);
            bar.update(i * MIB, 100 * MIB, 100.0 * MIB);
        }
        String drawn = text.toString();

        // the start draw, then redraws at 200, 400, 600, 800 and 1000 ms
        assertEquals(6, drawn.chars().filter(c -> c == '\r').count(), drawn);
        assertFalse(drawn.contains("\n"), "the bar stays on one line while it runs");
        assertTrue(drawn.endsWith("m.gguf  100% 100.0/100.0 MiB  100.0 MiB/s  ETA 0:00"), drawn);

        bar.finish(100 * MIB, true);
        assertTrue(text.toString().endsWith(System.lineSeparator()));
    }

    @Test
    void withoutTerminalPrintsAPlainLineEveryTenSeconds() {
        StringWriter text = new StringWriter();
        AtomicLong now = new AtomicLong();
        ConsoleProgressBar bar = new ConsoleProgressBar(new PrintWriter(text), false, now::get);

        bar.start("m.gguf", 10 * MIB, 100 * MIB);
        for (int s = 1; s <= 25; s++) {
            now.set(s * 1000 * MS);
            bar.update(10 * MIB + s * MIB, 100 * MIB, MIB);
        }
        bar.finish(100 * MIB, true);
        String[] lines = text.toString().split(System.lineSeparator());

        assertFalse(text.toString().contains("\r"));
        assertEquals(4, lines.length, text.toString());
        assertEquals("Downloading m.gguf (100.0 MiB), resuming at 10.0 MiB", lines[0]);
        assertEquals("m.gguf   20% 20.0/100.0 MiB  1.0 MiB/s  ETA 1:20", lines[1]);
        assertEquals("m.gguf   30% 30.0/100.0 MiB  1.0 MiB/s  ETA 1:10", lines[2]);
        assertEquals("Downloaded m.gguf: 100.0 MiB in 25.0 s", lines[3]);
    }
}
