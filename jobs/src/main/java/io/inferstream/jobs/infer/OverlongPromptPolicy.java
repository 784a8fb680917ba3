package io.inferstream.jobs.infer;

/** What to do with a prompt that, with its max_new_tokens, does not fit the model's context. */
public enum OverlongPromptPolicy {
    /** The request gets an ERROR result that says how long the prompt was and what fits. */
    ERROR,
    /** The request's text is cut (from the end) until prompt + max_new_tokens fit; the result says it ran. */
    TRUNCATE
}
