package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.backend.Backends;
import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.backend.DevicePlacement;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.tensor.CompilerTrapLimit;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A model (GGUF or Hugging Face safetensors) loaded once with its tokenizer, chat template and the engine that runs it. */
public final class LoadedModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LoadedModel.class);
    private final EngineSpec spec;
    private final Checkpoint file;
    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final Engine engine;
    private final BackendChoice choice;
    private final String device;

    private LoadedModel(EngineSpec spec, Checkpoint file, LanguageModel model, Tokenizer tokenizer,
            ChatTemplate chatTemplate, Engine engine, BackendChoice choice, String device) {
        this.choice = choice;
        this.device = device;
        this.spec = spec;
        this.file = file;
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.engine = engine;
    }

    /** Memory-maps the model's files, builds the model and starts the engine's step thread. */
    public static LoadedModel load(EngineSpec spec) {
        return load(spec, DevicePlacement.FIRST, UnaryOperator.identity());
    }

    /** {@link #load(EngineSpec)} on the GPU {@code placement} picks where the spec's device names none. */
    public static LoadedModel load(EngineSpec spec, DevicePlacement placement) {
        return load(spec, placement, UnaryOperator.identity());
    }

    /** {@link #load(EngineSpec, DevicePlacement)} with the engine running {@code wrap} of the model (fault-injection tests wrap it). */
    public static LoadedModel load(EngineSpec spec, DevicePlacement placement, UnaryOperator<LanguageModel> wrap) {
        Path path = TaskManagerModelFile.locate(spec);
        Checkpoint file = Checkpoint.open(path, spec.contextTokens());
        try {
            // The backend --device chose (CPU, or weights and KV cache resident on a GPU), said once in the log.
            Backends.Loaded loaded = Backends.load(file, DeviceOption.parse(spec.device()), spec.cudaOptions(), placement,
                    spec.quantizeType());
            LOG.info("model {}: {}", spec.modelName(), loaded.choice().reason());
            loaded.quantized(spec.quantizeType()).ifPresent(q -> LOG.info("model {}: {}", spec.modelName(), q));
            loaded.deviceMemory().ifPresent(memory -> LOG.info("model {}: device memory: {}", spec.modelName(), memory));
            if (!loaded.choice().cuda()) {
                CompilerTrapLimit.advice().ifPresent(advice -> LOG.warn("model {}: {}", spec.modelName(), advice));
            }
            if (!loaded.kernelChoices().isEmpty()) {
                StringBuilder choices = new StringBuilder();
                loaded.kernelChoices().forEach((what, decided) -> choices.append("\n  ").append(what).append(": ").append(decided));
                LOG.info("model {}: kernels chosen at load:{}", spec.modelName(), choices);
            }
            LanguageModel model = loaded.model();
            try {
                model = wrap.apply(model);
                Tokenizer tokenizer = file.tokenizer();
                ChatTemplate template = file.chatTemplate(tokenizer);
                Engine engine = new Engine(model, tokenizer, spec.engineConfig());
                return new LoadedModel(spec, file, model, tokenizer, template, engine, loaded.choice(), loaded.device());
            } catch (RuntimeException e) {
                model.close(); // a GPU model's device memory, which the process would otherwise keep
                throw e;
            }
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public EngineSpec spec() {
        return spec;
    }

    /** Which backend runs the model and why, e.g. "--device auto: no CUDA device (...); using the CPU backend". */
    public String backend() {
        return choice.reason();
    }

    /** The --device option's resolution on this machine: CPU or CUDA, which device, why. */
    public BackendChoice choice() {
        return choice;
    }

    /** What runs the model: "cpu", or e.g. "cuda:0 (NVIDIA H200, compute 9.0)". */
    public String device() {
        return device;
    }

    public Engine engine() {
        return engine;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    public ModelConfig modelConfig() {
        return model.config();
    }

    /** Cancels whatever is still queued or running, stops the step thread and unmaps the file. */
    @Override
    public void close() {
        try {
            engine.shutdownNow();
        } finally {
            try {
                model.close();
            } finally {
                file.close();
            }
        }
    }
}
