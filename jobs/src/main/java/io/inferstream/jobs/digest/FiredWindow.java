package io.inferstream.jobs.digest;

/** A window of one conversation whose digest was emitted, with its latest revision (a Flink POJO, kept in state). */
public class FiredWindow {
    public long start; // ms, inclusive
    public long end;   // ms, exclusive
    public int revision;

    public FiredWindow() {
    }

    public FiredWindow(long start, long end, int revision) {
        this.start = start;
        this.end = end;
        this.revision = revision;
    }

    boolean overlaps(long otherStart, long otherEnd) {
        return start < otherEnd && otherStart < end;
    }

    @Override
    public String toString() {
        return "[" + start + ", " + end + ") rev " + revision;
    }
}
