package io.inferstream.jobs.infer;

import io.inferstream.runtime.tasks.TaskDefaults;
import java.io.Serializable;

/**
 * The job's task settings, shipped with the operator (the task layer's {@link TaskDefaults} is built from
 * them on the TaskManager).
 *
 * @param maxNewTokens    tokens every generating task produces when a request does not say; 0 keeps the task
 *                        layer's per-task defaults
 * @param maxNewTokensCap upper bound on any request's max_new_tokens (0 = none): keeps a replay on a slow
 *                        machine short
 * @param contextTokens   the context the task layer plans with (0 = the model's); e.g. 512 for stories260K,
 *                        trained with 512 although its GGUF says 2048
 * @param overlongPrompt  what happens to a prompt longer than the context (SUMMARIZE and TRANSLATE are split
 *                        into chunks by the task layer instead)
 */
public record TaskOptions(int maxNewTokens, int maxNewTokensCap, int contextTokens, OverlongPromptPolicy overlongPrompt)
        implements Serializable {

    public TaskOptions {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max-new-tokens must be >= 0 (0 = the task defaults), got " + maxNewTokens);
        }
        if (maxNewTokensCap < 0) {
            throw new IllegalArgumentException("max-new-tokens-cap must be >= 0 (0 = no cap), got " + maxNewTokensCap);
        }
        if (contextTokens < 0) {
            throw new IllegalArgumentException("context-tokens must be >= 0 (0 = the model's), got " + contextTokens);
        }
        if (overlongPrompt == null) {
            throw new IllegalArgumentException("overlong-prompt policy must be ERROR or TRUNCATE, got null");
        }
    }

    public static TaskOptions defaults() {
        return new TaskOptions(0, 0, 0, OverlongPromptPolicy.ERROR);
    }

    /** The task layer's defaults with these settings applied. */
    public TaskDefaults taskDefaults() {
        TaskDefaults d = TaskDefaults.standard();
        if (maxNewTokens > 0) {
            d = d.withMaxNewTokens(maxNewTokens);
        }
        if (maxNewTokensCap > 0) {
            for (io.inferstream.runtime.tasks.Task t : io.inferstream.runtime.tasks.Task.values()) {
                if (t != io.inferstream.runtime.tasks.Task.CLASSIFY && d.samplingFor(t).maxNewTokens() > maxNewTokensCap) {
                    d = d.withSampling(t, d.samplingFor(t).withMaxNewTokens(maxNewTokensCap));
                }
            }
        }
        return d.withContextTokens(contextTokens);
    }

    /** A request's max_new_tokens after the cap (null stays null: the task default, already capped). */
    public Integer cap(Integer requested) {
        if (requested == null || maxNewTokensCap == 0) {
            return requested;
        }
        return Math.min(requested, maxNewTokensCap);
    }
}
