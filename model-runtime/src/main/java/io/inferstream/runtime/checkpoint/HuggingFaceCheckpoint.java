package io.inferstream.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.safetensors.SafetensorsShards;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/**
 * A Hugging Face model folder, as {@code git clone} or {@code huggingface-cli download} leaves it: {@code config.json},
 * the weights in {@code model.safetensors} (or shards listed by {@code model.safetensors.index.json}), and the
 * tokenizer's files ({@code tokenizer.json} and {@code tokenizer_config.json}, or {@code tokenizer.model}).
 */
public final class HuggingFaceCheckpoint implements Checkpoint {

    private final Path folder;
    private final HfConfig config;
    private final SafetensorsShards shards;

    private HuggingFaceCheckpoint(Path folder, HfConfig config, SafetensorsShards shards) {
        this.folder = folder;
        this.config = config;
        this.shards = shards;
    }

    /**
     * The checkpoint folder {@code path} names, or null when it names none: the folder itself when it holds a
     * config.json, or the folder of a config.json, a {@code *.safetensors} file or the shard index given instead.
     */
    public static Path folderOf(Path path) {
        if (Files.isDirectory(path)) {
            return HfConfig.isIn(path) ? path : null;
        }
        Path name = path.getFileName();
        String n = name == null ? "" : name.toString();
        boolean hfFile = n.equals("config.json") || n.endsWith(".safetensors") || n.equals(SafetensorsShards.INDEX);
        Path parent = path.toAbsolutePath().getParent();
        return hfFile && parent != null ? parent : null;
    }

    static HuggingFaceCheckpoint open(Path folder) {
        if (!HfConfig.isIn(folder)) {
            throw new IllegalArgumentException(folder + " has no config.json: a Hugging Face model folder needs config.json,"
                    + " the *.safetensors weights and the tokenizer's files");
        }
        HfConfig config = HfConfig.read(folder.resolve("config.json"));
        return new HuggingFaceCheckpoint(folder, config, SafetensorsShards.open(folder));
    }

    @Override
    public HuggingFaceCheckpoint withContext(int tokens) {
        return new HuggingFaceCheckpoint(folder, HfConfig.read(config.file(), tokens), shards);
    }

    @Override
    public Path path() {
        return folder;
    }

    @Override
    public String format() {
        return "safetensors";
    }

    @Override
    public ModelConfig config() {
        return config.model();
    }

    @Override
    public LlamaModel loadModel() {
        return HfLlamaLoader.load(config, shards);
    }

    @Override
    public Tokenizer tokenizer() {
        Tokenizer t = Tokenizers.fromHuggingFace(folder, config.model().vocabSize());
        if (t.vocabSize() > config.model().vocabSize()) {
            throw new IllegalArgumentException(folder + ": the tokenizer has " + t.vocabSize() + " tokens but config.json's"
                    + " vocab_size is " + config.model().vocabSize() + ": the model has no logits for the rest");
        }
        return t;
    }

    @Override
    public ChatTemplate chatTemplate(Tokenizer tokenizer) {
        return ChatTemplate.fromHuggingFace(folder);
    }

    @Override
    public ByteBuffer tensorData(String name) {
        io.inferstream.runtime.model.RowView view = io.inferstream.runtime.model.RowView.parse(name);
        if (view != null && !shards.hasTensor(name)) { // Phi-3's Q, K, V, gate or up: rows of a fused tensor
            return view.slice(shards.tensorData(view.tensor()), shards.tensor(view.tensor()).shape()[0]);
        }
        return shards.tensorData(name);
    }

    @Override
    public void close() {
        shards.close();
    }

    @Override
    public String toString() {
        return "Hugging Face checkpoint " + folder + " (" + config.modelType() + ", " + shards.files().size() + " safetensors file"
                + (shards.files().size() == 1 ? "" : "s") + ")";
    }
}
