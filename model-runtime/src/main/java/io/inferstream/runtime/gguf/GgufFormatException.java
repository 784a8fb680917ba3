package io.inferstream.runtime.gguf;

/** A GGUF file is malformed, or lacks (or mistypes) a key or tensor a caller needs. Names the file. */
public class GgufFormatException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
