package io.inferstream.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;

/**
 * A model on disk, opened: a GGUF file, or a Hugging Face folder ({@code config.json}, {@code *.safetensors},
 * tokenizer files). The one place a model path becomes a configuration, weights, a tokenizer and a chat template;
 * the CPU model, a GPU backend, the command line and the jobs all load through it.
 */
public interface Checkpoint extends AutoCloseable {

    /**
     * Opens {@code path}: a folder holding {@code config.json} (or that {@code config.json}, a {@code *.safetensors}
     * file or {@code model.safetensors.index.json} inside it) is a Hugging Face checkpoint; anything else must be a
     * GGUF file. Headers are read and checked now, weights are mapped when the model loads.
     */
    static Checkpoint open(Path path) {
        Path folder = HuggingFaceCheckpoint.folderOf(path);
        if (folder != null) {
            return HuggingFaceCheckpoint.open(folder);
        }
        if (Files.isDirectory(path)) {
            throw new IllegalArgumentException(path + " is a folder without config.json: a model is a GGUF file, or a"
                    + " Hugging Face folder with config.json, *.safetensors and the tokenizer's files");
        }
        return GgufCheckpoint.open(path);
    }

    /** {@link #open(Path)} with the model run for a context of {@code contextTokens} positions: {@link #withContext}. */
    static Checkpoint open(Path path, int contextTokens) {
        Checkpoint opened = open(path);
        try {
            return contextTokens == 0 ? opened : opened.withContext(contextTokens);
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    /** The file or folder as opened. */
    Path path();

    /** "GGUF" or "safetensors": what {@link #path()} holds, for messages. */
    String format();

    /**
     * This checkpoint with its model run for a context of {@code tokens} positions (0: the model's default); the two
     * share the files, and closing either closes them. Only LongRoPE (Phi-3 128k, Phi-3.5-mini, Phi-4-mini) depends on
     * it: asked for more than the original context (4096), the model turns with its long factors at every position and
     * its {@link ModelConfig#contextLength()} is what was asked, up to the longest it was trained for, as llama.cpp
     * chooses the factors by its context size; asked for less, the short factors. Every other model is unchanged.
     */
    Checkpoint withContext(int tokens);

    /** The transformer's hyper-parameters, read without loading the weights. */
    ModelConfig config();

    /** The model on the CPU: each tensor read from the memory-mapped files into the kernels' heap layout (so -Xmx holds it). */
    LlamaModel loadModel();

    Tokenizer tokenizer();

    /** The checkpoint's chat template with {@code tokenizer}'s BOS/EOS texts; the plain prompt when it has none. */
    ChatTemplate chatTemplate(Tokenizer tokenizer);

    /**
     * The stored bytes of the tensor a loaded {@link io.inferstream.runtime.tensor.Matrix} is named for (its
     * {@code name()}), little-endian: what a GPU backend uploads. Throws, naming the checkpoint, for an unknown name.
     */
    ByteBuffer tensorData(String name);

    /** Unmaps the files; a model loaded from them must not be used afterwards. */
    @Override
    void close();
}
