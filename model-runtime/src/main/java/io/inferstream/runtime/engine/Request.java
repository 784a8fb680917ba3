package io.inferstream.runtime.engine;

import io.inferstream.runtime.sampling.SamplingParams;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One generation request: the prompt (token ids, or text the engine's tokenizer encodes), how to sample
 * and when to stop ({@link SamplingParams}), its priority and arrival time, an optional deadline and an
 * optional streaming listener. Build one with {@link #builder}.
 *
 * @param id            caller's id (unique among requests in flight; used by {@link Engine#cancel})
 * @param promptTokens  prompt token ids, or null when {@code promptText} is given
 * @param promptText    prompt text, or null when {@code promptTokens} is given
 * @param params        sampling and stop conditions
 * @param priority      larger runs earlier; ties go to the earlier arrival
 * @param arrivalNanos  {@link System#nanoTime()} at arrival
 * @param deadlineNanos {@link System#nanoTime()} after which the request finishes with DEADLINE; Long.MAX_VALUE = none
 * @param listener      per-token callback, or null
 */
public record Request(
        String id,
        int[] promptTokens,
        String promptText,
        SamplingParams params,
        int priority,
        long arrivalNanos,
        long deadlineNanos,
        TokenListener listener) {

    private static final AtomicLong NEXT_ID = new AtomicLong();

    public Request {
        Objects.requireNonNull(id, "request id");
        Objects.requireNonNull(params, "sampling params of request " + id);
        if ((promptTokens == null) == (promptText == null)) {
            throw new IllegalArgumentException("request " + id + " needs exactly one of prompt tokens or prompt text");
        }
    }

    public static Builder builder(int[] promptTokens) {
        return new Builder(promptTokens.clone(), null);
    }

    public static Builder builder(String promptText) {
        return new Builder(null, promptText);
    }

    /** Fluent construction; arrival time is taken at {@link #build()}. */
    public static final class Builder {
        private final int[] tokens;
        private final String text;
        private String id;
        private SamplingParams params = SamplingParams.greedy(128);
        private int priority;
        private Duration timeout;
        private long deadlineNanos = Long.MAX_VALUE;
        private TokenListener listener;

        private Builder(int[] tokens, String text) {
            this.tokens = tokens;
            this.text = text;
        }

        public Builder id(String id) {
            this.id = id;
            return this;
        }

        public Builder params(SamplingParams params) {
            this.params = params;
            return this;
        }

        public Builder priority(int priority) {
            this.priority = priority;
            return this;
        }

        /** Finish with DEADLINE if not done this long after arrival. */
        public Builder deadline(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /**
         * Finish with DEADLINE if not done by {@code nanoTime} ({@link System#nanoTime()}): a deadline shared by
         * several requests, e.g. every engine call of one task. The earlier of this and {@link #deadline} applies.
         */
        public Builder deadlineAt(long nanoTime) {
            this.deadlineNanos = nanoTime;
            return this;
        }

        public Builder listener(TokenListener listener) {
            this.listener = listener;
            return this;
        }

        public Request build() {
            long now = System.nanoTime();
            long deadline = Math.min(deadlineNanos, timeout == null ? Long.MAX_VALUE : now + timeout.toNanos());
            String rid = id != null ? id : "req-" + NEXT_ID.incrementAndGet();
            return new Request(rid, tokens, text, params, priority, now, deadline, listener);
        }
    }
}
