package io.inferstream.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A count-of-records progress bar: one line redrawn with {@code \r} on a terminal, a plain line per
 * tenth of the way otherwise (logs, CI).
 */
final class RecordProgressBar {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final String label;
    private final long total;
    private final boolean interactive;
    private int lastTenth = -1;
    private String lastLine = "";

    RecordProgressBar(PrintStream out, String label, long total, boolean interactive) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.interactive = interactive;
    }

    static RecordProgressBar onStdout(String label, long total) {
        return new RecordProgressBar(System.out, label, total, System.console() != null);
    }

    synchronized void update(long done, String suffix) {
        String line = line(done, suffix);
        if (interactive) {
            if (!line.equals(lastLine)) {
                out.print("\r" + line);
                out.flush();
                lastLine = line;
            }
            return;
        }
        int tenth = total <= 0 ? 10 : (int) Math.min(10, done * 10 / total);
        if (tenth != lastTenth) {
            out.println(line);
            lastTenth = tenth;
        }
    }

    synchronized void finish(long done, String suffix) {
        if (interactive) {
            out.print("\r" + line(done, suffix));
            out.println();
        } else if (lastTenth != 10 || !suffix.isEmpty()) {
            out.println(line(done, suffix));
        }
        out.flush();
    }

    String line(long done, String suffix) {
        int filled = total <= 0 ? WIDTH : (int) Math.min(WIDTH, done * WIDTH / total);
        return String.format(Locale.ROOT, "%-10s [%s%s] %d/%d%s", label, "=".repeat(filled), " ".repeat(WIDTH - filled),
                done, total, suffix.isEmpty() ? "" : "  " + suffix);
    }
}
