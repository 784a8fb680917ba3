package io.inferstream.jobs.batch;

import java.time.Duration;
import java.util.Locale;

/**
 * Where a batch run stands: input files and records done of the total, tokens per second over
 * this run, and the estimated time left at this run's record rate. Records of files that an
 * earlier run finished count as done.
 */
public final class BatchProgress {
    private final int filesDone;
    private final int filesTotal;
    private final long recordsDone;
    private final long recordsTotal;
    private final long recordsThisRun;
    private final long tokensThisRun;
    private final Duration elapsed;

    public BatchProgress(int filesDone, int filesTotal, long recordsDone, long recordsTotal, long recordsThisRun,
                         long tokensThisRun, Duration elapsed) {
        this.filesDone = filesDone;
        this.filesTotal = filesTotal;
        this.recordsDone = recordsDone;
        this.recordsTotal = recordsTotal;
        this.recordsThisRun = recordsThisRun;
        this.tokensThisRun = tokensThisRun;
        this.elapsed = elapsed;
    }

    public int filesDone() {
        return filesDone;
    }

    public int filesTotal() {
        return filesTotal;
    }

    public long recordsDone() {
        return recordsDone;
    }

    public long recordsTotal() {
        return recordsTotal;
    }

    public double tokensPerSecond() {
        double s = elapsed.toMillis() / 1000.0;
        return s <= 0 ? 0 : tokensThisRun / s;
    }

    /** Time left at this run's record rate; null while nothing was processed yet. */
    public Duration eta() {
        if (recordsThisRun <= 0 || elapsed.isZero()) {
            return recordsDone >= recordsTotal ? Duration.ZERO : null;
        }
        long left = Math.max(0, recordsTotal - recordsDone);
        return Duration.ofMillis((long) (left * (double) elapsed.toMillis() / recordsThisRun));
    }

    /** {@code files 2/4, requests 512/1000 (51.2%), 35.2 tokens/s, ETA 0:01:23} */
    public String line() {
        double pct = recordsTotal == 0 ? 100.0 : 100.0 * recordsDone / recordsTotal;
        Duration eta = eta();
        String etaText = eta == null ? "?" : String.format(Locale.ROOT, "%d:%02d:%02d",
                eta.toHours(), eta.toMinutesPart(), eta.toSecondsPart());
        return String.format(Locale.ROOT, "files %d/%d, requests %d/%d (%.1f%%), %.1f tokens/s, ETA %s",
                filesDone, filesTotal, recordsDone, recordsTotal, pct, tokensPerSecond(), etaText);
    }

    @Override
    public String toString() {
        return line();
    }
}
