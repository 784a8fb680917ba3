package io.inferstream.jobs.batch;

/**
 * What one batch run did. {@code engineSubmissions} counts the requests this run handed to the
 * inference stage: after a resume it excludes everything committed before, which is what makes a
 * re-run cheap.
 */
public final class BatchReport {
    private final int filesTotal;
    private final int filesSkipped;
    private final long records;
    private final long skippedCommitted;
    private final long engineSubmissions;
    private final long results;
    private final long deadLetters;
    private final long tokens;

    BatchReport(int filesTotal, int filesSkipped, long records, long skippedCommitted, long engineSubmissions,
                long results, long deadLetters, long tokens) {
        this.filesTotal = filesTotal;
        this.filesSkipped = filesSkipped;
        this.records = records;
        this.skippedCommitted = skippedCommitted;
        this.engineSubmissions = engineSubmissions;
        this.results = results;
        this.deadLetters = deadLetters;
        this.tokens = tokens;
    }

    public int filesTotal() {
        return filesTotal;
    }

    /** Input files finished by an earlier run and not read again. */
    public int filesSkipped() {
        return filesSkipped;
    }

    /** Input records this run read. */
    public long records() {
        return records;
    }

    /** Valid requests this run read whose results were already committed. */
    public long skippedCommitted() {
        return skippedCommitted;
    }

    public long engineSubmissions() {
        return engineSubmissions;
    }

    public long results() {
        return results;
    }

    public long deadLetters() {
        return deadLetters;
    }

    public long tokens() {
        return tokens;
    }

    @Override
    public String toString() {
        return "files " + filesTotal + " (" + filesSkipped + " already done), records read " + records
                + ", already committed " + skippedCommitted + ", engine submissions " + engineSubmissions
                + ", results " + results + ", dead letters " + deadLetters + ", tokens " + tokens;
    }
}
