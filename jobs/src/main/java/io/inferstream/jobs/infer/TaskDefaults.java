package io.inferstream.jobs.infer;

import java.io.Serializable;

/**
 * The job's defaults for what a request leaves open.
 *
 * @param maxNewTokens    used when a request has no max_new_tokens
 * @param maxNewTokensCap upper bound on any request's max_new_tokens (0 = none): keeps a replay on a slow
 *                        machine short
 * @param overlongPrompt  what happens to a prompt longer than the model's context
 */
public record TaskDefaults(int maxNewTokens, int maxNewTokensCap, OverlongPromptPolicy overlongPrompt)
        implements Serializable {

    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

    public TaskDefaults {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max-new-tokens must be >= 1, got " + maxNewTokens);
        }
        if (maxNewTokensCap < 0) {
            throw new IllegalArgumentException("max-new-tokens-cap must be >= 0 (0 = no cap), got " + maxNewTokensCap);
        }
        if (overlongPrompt == null) {
            throw new IllegalArgumentException("overlong-prompt policy must be ERROR or TRUNCATE, got null");
        }
    }

    public static TaskDefaults defaults() {
        return new TaskDefaults(DEFAULT_MAX_NEW_TOKENS, 0, OverlongPromptPolicy.ERROR);
    }

    /** The max_new_tokens a request runs with. */
    public int maxNewTokensFor(Integer requested) {
        int n = requested == null ? maxNewTokens : requested;
        return maxNewTokensCap > 0 ? Math.min(n, maxNewTokensCap) : n;
    }
}
