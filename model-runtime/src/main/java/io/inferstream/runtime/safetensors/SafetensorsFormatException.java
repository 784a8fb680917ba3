package io.inferstream.runtime.safetensors;

/** A safetensors file is malformed, or lacks a tensor a caller needs. The message names the file. */
public class SafetensorsFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public SafetensorsFormatException(String message) {
        super(message);
    }

    public SafetensorsFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
