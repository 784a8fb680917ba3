package io.inferstream.runtime.tasks;

/** What a {@link TaskRequest} asks the model to do. */
public enum Task {
    /** Pick the best of the request's labels (constrained choice by label log-likelihood; nothing is generated). */
    CLASSIFY,
    /** Write a summary of the text (map-reduce over chunks when it does not fit the context). */
    SUMMARIZE,
    /** Translate the text between two languages (sentence by sentence when it does not fit the context). */
    TRANSLATE,
    /** Continue the text (or follow it as an instruction, for chat models). */
    GENERATE
}
