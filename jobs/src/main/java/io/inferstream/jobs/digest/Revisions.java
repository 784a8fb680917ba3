package io.inferstream.jobs.digest;

import java.util.ArrayList;
import java.util.List;

/**
 * Revision numbers of one conversation's windows. A window firing for the first time gets revision 0; a
 * window that fires again because late messages arrived gets the previous revision + 1. Session windows
 * change shape when a late message merges into them (the merged window contains the windows it replaced),
 * so a firing window takes over the revision of every fired window it overlaps, rather than relying on
 * per-window state, which Flink does not carry across merges.
 */
public final class Revisions {
    private Revisions() {
    }

    /**
     * The revision of window {@code [start, end)} firing now; {@code fired} (this conversation's fired
     * windows) is updated in place: overlapped windows are replaced by this one, and windows whose lateness
     * has run out at {@code watermark} are forgotten.
     *
     * @param lateness allowed lateness // ms
     */
    public static int next(List<FiredWindow> fired, long start, long end, long watermark, long lateness) {
        int revision = 0;
        List<FiredWindow> kept = new ArrayList<>();
        for (FiredWindow w : fired) {
            if (w.overlaps(start, end)) {
                revision = Math.max(revision, w.revision + 1);
            } else if (w.end - 1 + lateness > watermark) {
                kept.add(w); // can still be revised
            }
        }
        kept.add(new FiredWindow(start, end, revision));
        fired.clear();
        fired.addAll(kept);
        return revision;
    }

    /**
     * Drops from {@code fired} the windows whose lateness has run out at {@code watermark} (Flink has purged them:
     * they can no longer fire). Returns whether any were dropped.
     *
     * @param lateness allowed lateness // ms
     */
    public static boolean forgetPurged(List<FiredWindow> fired, long watermark, long lateness) {
        return fired.removeIf(w -> w.end - 1 + lateness <= watermark);
    }
}
