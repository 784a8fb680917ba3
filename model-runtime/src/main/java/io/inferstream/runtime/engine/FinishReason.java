package io.inferstream.runtime.engine;

/** Why a request stopped producing tokens. */
public enum FinishReason {
    /** An end-of-generation token, a stop token or a stop string. */
    STOP,
    /** The request's maxNewTokens were generated. */
    LENGTH,
    /** {@link Engine#cancel} was called, or the engine was shut down without draining. */
    CANCELLED,
    /** The request's deadline passed before it finished. */
    DEADLINE,
    /** The request could not run (never fits, bad input, model failure); the message says why. */
    ERROR
}
