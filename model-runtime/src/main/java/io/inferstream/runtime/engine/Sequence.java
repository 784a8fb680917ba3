package io.inferstream.runtime.engine;

import io.inferstream.runtime.speculative.DraftBudget;
import io.inferstream.runtime.speculative.Speculation;

import java.util.Arrays;

/**
 * The engine's state of one request while it is in flight: its tokens (prompt, then generated ones),
 * how many of them have keys/values in the cache, where it stands in the scheduler, and its
 * statistics. A generation request and a continuation-scoring request are both a Sequence; they differ
 * in which positions' logits are wanted. Only the engine's step thread touches it.
 */
public final class Sequence {

    /** What the sequence's logits are used for. */
    public enum Kind {
        /** Sample a next token after the last token, repeatedly. */
        GENERATE,
        /** Log-probability of each given continuation token; nothing is sampled. */
        SCORE
    }

    /** Where the sequence is in its life. */
    public enum Status { WAITING, RUNNING, FINISHED }

    private final long id;
    private final String requestId;
    private final Kind kind;
    private final int priority;
    private final long arrivalNanos;
    private final long deadlineNanos;
    private final int promptLength;
    private final int logitsFrom;
    private final int maxLength;
    private int[] tokens;   // [capacity] prompt then generated tokens; first `length` are valid
    private int length;
    private int numComputed;
    private Status status = Status.WAITING;
    private long admissionOrder = -1;
    private int preemptions;
    private int cachedTokens;
    private RequestProgress progress;
    private DraftBudget draftBudget; // speculative decoding's, made at the first guess

    /**
     * @param tokens      initial tokens (the prompt; for scoring, prefix + continuation without its last token)
     * @param promptLength tokens that are input (not generated)
     * @param logitsFrom  first position whose next-token logits are wanted (never served from the prefix cache)
     * @param maxLength   most tokens the sequence can grow to (prompt + max new tokens)
     */
    public Sequence(long id, String requestId, Kind kind, int[] tokens, int promptLength, int logitsFrom,
                    int maxLength, int priority, long arrivalNanos, long deadlineNanos) {
        this.id = id;
        this.requestId = requestId;
        this.kind = kind;
        this.tokens = Arrays.copyOf(tokens, Math.max(tokens.length, Math.min(maxLength, tokens.length + 64)));
        this.length = tokens.length;
        this.promptLength = promptLength;
        this.logitsFrom = logitsFrom;
        this.maxLength = maxLength;
        this.priority = priority;
        this.arrivalNanos = arrivalNanos;
        this.deadlineNanos = deadlineNanos;
    }

    public long id() {
        return id;
    }

    public String requestId() {
        return requestId;
    }

    public Kind kind() {
        return kind;
    }

    public int priority() {
        return priority;
    }

    public long arrivalNanos() {
        return arrivalNanos;
    }

    public long deadlineNanos() {
        return deadlineNanos;
    }

    public int promptLength() {
        return promptLength;
    }

    public int logitsFrom() {
        return logitsFrom;
    }

    public int maxLength() {
        return maxLength;
    }

    /** All tokens so far (a view: valid up to {@link #length()}). */
    public int[] tokens() {
        return tokens;
    }

    /** A copy of exactly the valid tokens: what the prefix cache hashes. */
    public int[] tokenArray() {
        return Arrays.copyOf(tokens, length);
    }

    public int length() {
        return length;
    }

    public int generatedLength() {
        return length - promptLength;
    }

    /** Tokens whose keys/values are in the cache. */
    public int numComputed() {
        return numComputed;
    }

    /** Tokens still to run through the model before the next logits are ready. */
    public int remaining() {
        return length - numComputed;
    }

    /**
     * Most leading tokens that may come from the prefix cache: every position whose logits are wanted
     * must be computed (a sequence whose whole prompt is cached still recomputes its last token).
     */
    public int cacheableTokens() {
        return kind == Kind.SCORE ? logitsFrom : length - 1;
    }

    public Status status() {
        return status;
    }

    public long admissionOrder() {
        return admissionOrder;
    }

    public int preemptions() {
        return preemptions;
    }

    /** Prompt tokens taken from the prefix cache at the latest admission. */
    public int cachedTokens() {
        return cachedTokens;
    }

    /** Appends a generated token. */
    public void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, 16));
        }
        tokens[length++] = token;
    }

    void admit(long order, int cachedPrefixTokens) {
        status = Status.RUNNING;
        admissionOrder = order;
        numComputed = cachedPrefixTokens;
        cachedTokens = cachedPrefixTokens;
    }

    void advance(int computed) {
        numComputed += computed;
    }

    /** Back to waiting with nothing computed: its blocks were taken away and it will be recomputed. */
    void preempt() {
        status = Status.WAITING;
        numComputed = 0;
        preemptions++;
    }

    /** How many guesses this sequence may run in its next step (speculative decoding). */
    DraftBudget draftBudget(Speculation speculation) {
        if (draftBudget == null) {
            draftBudget = speculation.newBudget();
        }
        return draftBudget;
    }

    /** Records how the guesses of a step fared (no-op when it never guessed). */
    void recordDrafts(int proposed, int kept) {
        if (draftBudget != null) {
            draftBudget.record(proposed, kept);
        }
    }

    /** What the request has produced so far and where it goes (null in scheduler-only use). */
    RequestProgress progress() {
        return progress;
    }

    void attach(RequestProgress p) {
        this.progress = p;
    }

    void markFinished() {
        status = Status.FINISHED;
    }

    @Override
    public String toString() {
        return "Sequence[" + requestId + ", " + kind + ", " + status + ", tokens=" + length + ", computed=" + numComputed + "]";
    }
}
