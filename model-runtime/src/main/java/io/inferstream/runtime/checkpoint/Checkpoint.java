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

    /** The file or folder as opened. */
    Path path();

    /** "GGUF" or "safetensors": what {@link #path()} holds, for messages. */
    String format();

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
