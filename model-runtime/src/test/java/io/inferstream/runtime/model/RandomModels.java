package io.inferstream.runtime.model;

import java.nio.file.Path;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;

/** Tiny random models for tests outside this package (generation, engine). */
public final class RandomModels {

    private RandomModels() {
    }

    /** Writes a 2-layer F32 llama (dim 64, 4 heads, 2 KV heads, vocab 300) to {@code path} and opens it. */
    public static GgufFile llamaF32(Path path) {
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32), path);
        return GgufFile.open(path);
    }
}
