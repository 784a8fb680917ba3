package io.inferstream.runtime.generate;

/** Why a generation ended. */
public enum FinishReason {
    /** An end-of-generation token, a stop token or a stop string. */
    STOP,
    /** The max-new-tokens limit or the model's context length. */
    LENGTH
}
