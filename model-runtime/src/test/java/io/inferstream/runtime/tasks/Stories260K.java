package io.inferstream.runtime.tasks;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/**
 * The real stories260K model and tokenizer the task tests run on, loaded once per test JVM (through
 * {@link SharedModels}, so a missing file skips or fails as that helper decides). The mapped file stays open
 * until the JVM exits.
 */
final class Stories260K {

    private static LlamaModel model;
    private static Tokenizer tokenizer;

    private Stories260K() {
    }

    static synchronized LlamaModel model() {
        load();
        return model;
    }

    static synchronized Tokenizer tokenizer() {
        load();
        return tokenizer;
    }

    private static void load() {
        if (model == null) {
            GgufFile file = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
            model = LlamaModel.load(file);
            tokenizer = Tokenizers.fromGguf(file);
        }
    }
}
