package io.inferstream.runtime.tokenizer;

/** Token types as GGUF stores them in {@code tokenizer.ggml.token_type} (llama.cpp's llama_token_type). */
public enum TokenType {
    UNDEFINED(0),
    NORMAL(1),
    UNKNOWN(2),
    CONTROL(3),
    USER_DEFINED(4),
    UNUSED(5),
    BYTE(6);

    private final int code;

    TokenType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public static TokenType fromCode(int code) {
        for (TokenType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown token type " + code + " (expected 0..6)");
    }

    /** Matched in raw text before any splitting: user-defined always, control/unknown only when parsing special tokens. */
    boolean isSpecial() {
        return this == CONTROL || this == USER_DEFINED || this == UNKNOWN;
    }
}
