package io.inferstream.runtime.speculative;

/**
 * How many guesses one sequence may run in its next step, learned from how its last guesses fared. A guess that
 * fails costs a token's compute (on a CPU a decode step with one guess costs ~1.4 plain steps: docs/benchmarks.md),
 * so a sequence whose text does not repeat should stop paying for it, and one that copies should guess far ahead:
 * <ul>
 *   <li>all guesses kept: the limit doubles, up to {@link Speculation#tokens()};</li>
 *   <li>some kept: the limit becomes what was kept plus one;</li>
 *   <li>none kept: the limit drops to one and the sequence skips its next 1, 2, 4, … 16 steps' guesses (doubling with
 *       each miss in a row, reset by a kept guess).</li>
 * </ul>
 * Only the number of steps changes: guesses are checked against what the sampler picks, so the output is the same.
 */
public final class DraftBudget {

    /** Most steps a run of misses makes a sequence wait before it guesses again. */
    static final int MAX_SKIP = 16;

    private final int max;
    private int limit;
    private int skip;
    private int missesInARow;

    public DraftBudget(int max) {
        this.max = max;
        this.limit = max;
    }

    /** Most guesses the next step may run. */
    public int limit() {
        return limit;
    }

    /** Whether a step that has guesses to run may run them; false (counting the step) while the sequence skips. */
    public boolean take() {
        if (skip > 0) {
            skip--;
            return false;
        }
        return true;
    }

    /** Records a step that ran {@code proposed} guesses, of which the first {@code kept} were kept. */
    public void record(int proposed, int kept) {
        if (proposed == 0) {
            return;
        }
        if (kept == proposed) {
            limit = Math.min(max, 2 * limit);
            missesInARow = 0;
        } else if (kept > 0) {
            limit = kept + 1;
            missesInARow = 0;
        } else {
            limit = 1;
            missesInARow++;
            skip = Math.min(MAX_SKIP, 1 << Math.min(missesInARow - 1, 4));
        }
    }
}
