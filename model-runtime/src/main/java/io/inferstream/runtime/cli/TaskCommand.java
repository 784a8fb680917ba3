package io.inferstream.runtime.cli;

import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.EngineMetrics;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskDefaults;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * What {@code classify}, {@code summarize} and {@code translate} share: a model, the input text (an option or
 * standard input), an optional instruction, the context to plan with; one {@link TaskRunner} request; the
 * answer on stdout and token counts, chunks and time on stderr.
 */
abstract class TaskCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "PATH|hf://...", description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo")
    String modelSpec;

    @Mixin
    HubCliOptions hub;

    @Mixin
    DeviceCliOption deviceOption = new DeviceCliOption();

    @Mixin
    SpeculationCliOptions speculation = new SpeculationCliOptions();

    @Option(names = "--text", description = "the input (default: read standard input)")
    String text;

    @Option(names = "--instruction", description = "replaces the task's default instruction")
    String instruction;

    @Option(names = "--context", defaultValue = "0", description = "context tokens to plan with; 0 = the model's; more than a LongRoPE model's original context (Phi-3 128k, Phi-3.5, Phi-4-mini) runs it with its long factors (default ${DEFAULT-VALUE})")
    int context;

    final PrintStream out;
    final PrintStream err;

    TaskCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** The command's request for {@code input}. */
    abstract TaskRequest.Builder request(String input);

    /** The defaults the command adjusts (e.g. label scoring). */
    TaskDefaults defaults() {
        return TaskDefaults.standard();
    }

    /** Writes the answer to stdout. */
    void print(TaskResult result) {
        out.println(result.output());
    }

    @Override
    public Integer call() {
        try {
            return run();
        } catch (IOException | IllegalArgumentException | IllegalStateException | UncheckedIOException | GgufFormatException e) {
            // IllegalStateException: a --device that is not there, or a model that does not fit it; GgufFormatException: a
            // corrupt or truncated model file
            err.println(name() + ": " + e.getMessage());
            return 2;
        }
    }

    private String name() {
        return getClass().getAnnotation(picocli.CommandLine.Command.class).name();
    }

    private int run() throws IOException {
        EngineConfig config = EngineConfig.defaults().withSpeculation(speculation.speculation());
        String input = text != null ? text : readStdin();
        Path modelPath = hub.resolver().resolve(modelSpec);
        try (Checkpoint checkpoint = Checkpoint.open(modelPath, context); LanguageModel model = deviceOption.load(checkpoint, err)) {
            Tokenizer tokenizer = checkpoint.tokenizer();
            ChatTemplate template = checkpoint.chatTemplate(tokenizer);
            TaskResult result;
            EngineMetrics metrics;
            try (Engine engine = new Engine(model, tokenizer, config)) {
                TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, template,
                        defaults().withContextTokens(context), modelPath.getFileName().toString());
                result = runner.run(request(input).instruction(instruction).build()).join();
                metrics = engine.metrics();
            }
            if (result.isError()) {
                err.println(name() + ": " + result.finishReason() + ": " + result.error());
                return 1;
            }
            print(result);
            out.flush();
            err.printf(Locale.ROOT, "prompt: %d tokens; generated: %d tokens; chunks: %d; finish: %s; %.0f ms%n",
                    result.promptTokens(), result.completionTokens(), result.chunks(),
                    result.finishReason().name().toLowerCase(Locale.ROOT), result.queueMs() + result.computeMs());
            if (config.speculation().enabled()) {
                EngineMetrics m = metrics;
                err.printf(Locale.ROOT, "speculative decoding: %d of %d guessed tokens kept (%.0f%%)%n", m.acceptedDraftTokens(),
                        m.draftTokens(), 100 * m.draftAcceptanceRate());
            }
            return 0;
        }
    }

    static TaskRequest.Builder builder(Task task, String input) {
        return TaskRequest.builder(task.name().toLowerCase(Locale.ROOT) + "-cli", task, input);
    }

    private static String readStdin() {
        try {
            return new String(System.in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the text from standard input", e);
        }
    }
}
