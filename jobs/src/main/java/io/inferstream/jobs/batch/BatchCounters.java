package io.inferstream.jobs.batch;

import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.util.Set;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFilterFunction;
import org.apache.flink.api.common.functions.RichMapFunction;

/**
 * The Flink accumulators of one batch chunk job and the operators that count them. The driver reads
 * them while the job runs (progress) and when it ends (report, chunk marker).
 */
final class BatchCounters {
    /** Input records read from the file (valid or not). */
    static final String RECORDS = "inferstream.records";
    /** Valid requests dropped because their result is already committed. */
    static final String SKIPPED = "inferstream.skipped-committed";
    /** Requests handed to the inference stage: each one costs model time. */
    static final String SUBMITTED = "inferstream.engine-submissions";
    static final String RESULTS = "inferstream.results";
    /** Prompt plus completion tokens of the results. */
    static final String TOKENS = "inferstream.tokens";
    static final String DEAD_LETTERS = "inferstream.dead-letters";

    private BatchCounters() {
    }

    /** Passes records through, counting them under {@code name}. */
    static final class Count<T> extends RichMapFunction<T, T> {
        private static final long serialVersionUID = 1L;
        private final String name;
        private transient LongCounter counter;

        Count(String name) {
            this.name = name;
        }

        @Override
        public void open(OpenContext context) {
            counter = getRuntimeContext().getLongCounter(name);
        }

        @Override
        public T map(T value) {
            counter.add(1L);
            return value;
        }
    }

    static Count<DeadLetter> deadLetters() {
        return new Count<>(DEAD_LETTERS);
    }

    static Count<InferenceRequest> submissions() {
        return new Count<>(SUBMITTED);
    }

    /** Counts results and their tokens. */
    static final class CountResults extends RichMapFunction<InferenceResult, InferenceResult> {
        private static final long serialVersionUID = 1L;
        private transient LongCounter results;
        private transient LongCounter tokens;

        @Override
        public void open(OpenContext context) {
            results = getRuntimeContext().getLongCounter(RESULTS);
            tokens = getRuntimeContext().getLongCounter(TOKENS);
        }

        @Override
        public InferenceResult map(InferenceResult result) {
            results.add(1L);
            tokens.add((long) result.getPromptTokens() + result.getCompletionTokens());
            return result;
        }
    }

    /**
     * Drops requests whose result is already committed, right after decoding and before they can
     * reach the engine. The id set travels with the job graph: a few bytes per committed id.
     */
    static final class SkipCommitted extends RichFilterFunction<InferenceRequest> {
        private static final long serialVersionUID = 1L;
        private final Set<String> committed;
        private transient LongCounter skipped;

        SkipCommitted(Set<String> committed) {
            this.committed = committed;
        }

        @Override
        public void open(OpenContext context) {
            skipped = getRuntimeContext().getLongCounter(SKIPPED);
        }

        @Override
        public boolean filter(InferenceRequest request) {
            if (committed.contains(request.getId())) {
                skipped.add(1L);
                return false;
            }
            return true;
        }
    }
}
