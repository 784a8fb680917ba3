package io.inferstream.runtime.gguf;

import java.util.List;

/**
 * A GGUF metadata array: all elements have {@code elementType}; elements are boxed as
 * {@link GgufValueType} documents, and an element of type ARRAY is itself a {@code GgufArray}.
 */
public record GgufArray(GgufValueType elementType, List<Object> values) {

    public GgufArray {
        values = List.copyOf(values);
    }

    public int size() {
        return values.size();
    }
}
