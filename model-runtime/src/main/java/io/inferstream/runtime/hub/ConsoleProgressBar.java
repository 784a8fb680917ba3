package io.inferstream.runtime.hub;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Download progress on the console. On a terminal one line is redrawn in place with {@code \r}
 * (percentage, MiB done/total, MiB/s, ETA), at most five times a second; when stderr is not a terminal
 * (a log file, CI) a plain line is printed every ten seconds instead, so logs do not fill with redraws.
 */
public final class ConsoleProgressBar implements ProgressListener {

    static final long REDRAW_NANOS = 200_000_000L;     // 5 redraws per second at most
    static final long LOG_LINE_NANOS = 10_000_000_000L; // one plain line per 10 s
    private static final double MIB = 1024.0 * 1024.0;

    private final PrintWriter out;
    private final boolean interactive;
    private final LongSupplier nanoTime;

    private String label = "";
    private long startNanos;
    private long lastDrawNanos;
    private boolean drawn;
    private int lastLength;
    private long lastDone;
    private long lastTotal = -1;
    private double lastRate;

    /**
     * @param interactive redraw one line with {@code \r} (a terminal) rather than print log lines
     * @param nanoTime    clock in nanoseconds ({@code System::nanoTime}; tests pass their own)
     */
    public ConsoleProgressBar(PrintWriter out, boolean interactive, LongSupplier nanoTime) {
        this.out = out;
        this.interactive = interactive;
        this.nanoTime = nanoTime;
    }

    /** Progress on {@code System.err}; a redrawn bar when there is a console, log lines otherwise. */
    public static ConsoleProgressBar forStderr() {
        return new ConsoleProgressBar(new PrintWriter(new OutputStreamWriter(System.err, Charset.defaultCharset()), true),
                System.console() != null, System::nanoTime);
    }

    @Override
    public synchronized void start(String name, long done, long total) {
        endLine();
        label = name;
        startNanos = nanoTime.getAsLong();
        lastDone = done;
        lastTotal = total;
        lastRate = 0;
        if (interactive) {
            draw(line(label, done, total, 0));
        } else {
            out.println("Downloading " + label + (total >= 0 ? " (" + mib(total) + " MiB)" : "")
                    + (done > 0 ? ", resuming at " + mib(done) + " MiB" : ""));
        }
        lastDrawNanos = startNanos;
    }

    @Override
    public synchronized void update(long done, long total, double bytesPerSecond) {
        lastDone = done;
        lastTotal = total;
        lastRate = bytesPerSecond;
        long now = nanoTime.getAsLong();
        if (now - lastDrawNanos < (interactive ? REDRAW_NANOS : LOG_LINE_NANOS)) {
            return;
        }
        lastDrawNanos = now;
        if (interactive) {
            draw(line(label, done, total, bytesPerSecond));
        } else {
            out.println(line(label, done, total, bytesPerSecond));
        }
    }

    @Override
    public synchronized void finish(long done, boolean success) {
        if (success) {
            double seconds = (nanoTime.getAsLong() - startNanos) / 1e9;
            if (interactive) {
                draw(line(label, done, done, lastRate));
            } else {
                out.println("Downloaded " + label + ": " + mib(done) + " MiB in " + String.format(Locale.ROOT, "%.1f", seconds) + " s");
            }
        }
        endLine();
        out.flush();
    }

    /** One progress line, e.g. {@code model.gguf  42% 123.4/644.6 MiB  35.2 MiB/s  ETA 0:15}. */
    static String line(String label, long done, long total, double bytesPerSecond) {
        StringBuilder s = new StringBuilder(label).append("  ");
        if (total > 0) {
            s.append(String.format(Locale.ROOT, "%3d%% %s/%s MiB", (int) (100 * done / total), mib(done), mib(total)));
        } else {
            s.append(mib(done)).append(" MiB");
        }
        s.append(String.format(Locale.ROOT, "  %.1f MiB/s", bytesPerSecond / MIB));
        if (total > 0) {
            s.append("  ETA ").append(bytesPerSecond > 0 ? clock(Math.round((total - done) / bytesPerSecond)) : "--:--");
        }
        return s.toString();
    }

    static String clock(long seconds) {
        long h = seconds / 3600;
        long m = seconds / 60 % 60;
        long sec = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec) : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / MIB);
    }

    private void draw(String text) {
        // pad with spaces so a shorter line wipes the end of the previous one
        String padded = text.length() < lastLength ? text + " ".repeat(lastLength - text.length()) : text;
        out.print('\r');
        out.print(padded);
        out.flush();
        lastLength = text.length();
        drawn = true;
    }

    private void endLine() {
        if (drawn) {
            out.println();
            drawn = false;
            lastLength = 0;
        }
    }
}
