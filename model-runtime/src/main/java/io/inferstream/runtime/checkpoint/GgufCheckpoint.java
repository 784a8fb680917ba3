package io.inferstream.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/** A GGUF file: hyper-parameters, tensors, vocabulary and chat template all in one file (llama.cpp's layout). */
public final class GgufCheckpoint implements Checkpoint {

    private final GgufFile gguf;
    private final int contextTokens; // 0: the model's default

    private GgufCheckpoint(GgufFile gguf, int contextTokens) {
        this.gguf = gguf;
        this.contextTokens = contextTokens;
    }

    static GgufCheckpoint open(Path path) {
        return new GgufCheckpoint(GgufFile.open(path), 0);
    }

    /** A checkpoint over a GGUF file already open; closing either closes the file. */
    public static GgufCheckpoint of(GgufFile gguf) {
        return new GgufCheckpoint(gguf, 0);
    }

    @Override
    public GgufCheckpoint withContext(int tokens) {
        if (tokens < 0) {
            throw new IllegalArgumentException("context of " + tokens + " tokens: expected 0 (the model's) or more");
        }
        return new GgufCheckpoint(gguf, tokens);
    }

    /** The file itself, for what only GGUF has (its metadata keys). */
    public GgufFile gguf() {
        return gguf;
    }

    @Override
    public Path path() {
        return gguf.path();
    }

    @Override
    public String format() {
        return "GGUF";
    }

    @Override
    public ModelConfig config() {
        return LlamaModel.config(gguf, contextTokens);
    }

    @Override
    public LlamaModel loadModel() {
        return LlamaModel.load(gguf, contextTokens);
    }

    @Override
    public Tokenizer tokenizer() {
        return Tokenizers.fromGguf(gguf);
    }

    @Override
    public ChatTemplate chatTemplate(Tokenizer tokenizer) {
        return ChatTemplate.fromGguf(gguf, tokenizer);
    }

    @Override
    public ByteBuffer tensorData(String name) {
        io.inferstream.runtime.model.RowView view = io.inferstream.runtime.model.RowView.parse(name);
        if (view != null && !gguf.hasTensor(name) && gguf.hasTensor(view.tensor())) { // Phi-3's fused tensors' rows
            io.inferstream.runtime.gguf.GgufTensorInfo t = gguf.tensor(view.tensor());
            return view.slice(gguf.tensorData(view.tensor()), t.ne(t.dims() - 1));
        }
        if (!gguf.hasTensor(name)) {
            throw new IllegalStateException(gguf.path() + ": tensor " + name + " of the loaded model is not in the file");
        }
        return gguf.tensorData(name);
    }

    @Override
    public void close() {
        gguf.close();
    }

    @Override
    public String toString() {
        return "GGUF " + gguf.path();
    }
}
