package io.inferstream.runtime.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import io.inferstream.runtime.generate.GenerationResult;
import io.inferstream.runtime.generate.Generator;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.speculative.Speculation;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.checkpoint.HuggingFaceCheckpoint;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.Llama2cLoader;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.tokenizer.ChatMessage;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code inferstream generate}: one prompt, one continuation, streamed to stdout as it is produced;
 * prompt and generation speed go to stderr at the end. Sampling defaults are llama.cpp's.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt with a GGUF, Hugging Face or llama2.c model, on the CPU or a GPU (--device).")
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "PATH|hf://...",
            description = "GGUF model file, Hugging Face model folder (config.json, *.safetensors, tokenizer files), "
                    + "hf://owner/repo/file.gguf or hf://owner/repo (downloaded once into the cache), or a llama2.c "
                    + "checkpoint (.bin) together with --tokenizer")
    String modelSpec;

    @Mixin
    HubCliOptions hub;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer (tokenizer.bin) for a .bin model")
    Path tokenizerPath;

    @Option(names = "--prompt", description = "the prompt (default: read standard input)")
    String prompt;

    @Option(names = {"-n", "--max-new-tokens"}, defaultValue = "256", description = "at most this many new tokens (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0.8", description = "0 = greedy (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", description = "0 = off (default ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "1 = off (default ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "0 = off (default ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "CTRL repetition penalty, 1 = off (default ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--seed", defaultValue = "-1", description = "sampling seed; -1 picks one and prints it (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--num-beams", defaultValue = "1", description = "beam search width, 1 = off (default ${DEFAULT-VALUE})")
    int numBeams;

    @Option(names = "--length-penalty", defaultValue = "1.0", description = "beam score = logprob / length^p (default ${DEFAULT-VALUE})")
    float lengthPenalty;

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop when the text ends with this (repeatable); it is cut off")
    List<String> stops = new ArrayList<>();

    @Option(names = "--no-bos", description = "do not add the BOS token in front of the prompt")
    boolean noBos;

    @Option(names = "--chat", description = "send the prompt as a user message through the model's chat template")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "with --chat: a system message before the prompt")
    String system;

    @Option(names = "--thinking", paramLabel = "on|off",
            description = "with --chat: bind enable_thinking for a reasoning model's template (Qwen3 style): off asks for the"
                    + " answer without a thinking block (default: unbound, the template's own default)")
    String thinking;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0",
            description = "context to run the model with, 0 = its default; only LongRoPE models (Phi-3 128k, Phi-3.5,"
                    + " Phi-4-mini) depend on it: past their original context they turn with their long factors (default ${DEFAULT-VALUE})")
    int context;

    private final PrintStream out;
    private final PrintStream err;

    @picocli.CommandLine.Mixin
    DeviceCliOption deviceOption = new DeviceCliOption();

    @picocli.CommandLine.Mixin
    SpeculationCliOptions speculation = new SpeculationCliOptions();

    public GenerateCommand() {
        this(System.out, System.err);
    }

    GenerateCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new GenerateCommand()).execute(args));
    }

    @Override
    public Integer call() {
        try {
            return run();
        } catch (IOException | IllegalArgumentException | IllegalStateException | UncheckedIOException | GgufFormatException e) {
            // bad options, a missing or corrupt model file, a device that is not there, a model that does not fit it:
            // one line, no stack trace
            err.println("generate: " + e.getMessage());
            return 2;
        }
    }

    private int run() throws IOException {
        Map<String, Object> templateVariables = thinking == null ? Map.of() : Map.of("enable_thinking", switch (thinking) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("--thinking takes on or off, not '" + thinking + "'");
        });
        String text = prompt != null ? prompt : readStdin();
        Path model = hub.resolver().resolve(modelSpec);
        boolean llama2c = isLlama2c(model);
        if (llama2c && tokenizerPath == null) {
            throw new IllegalArgumentException(model + " is neither a GGUF file nor a Hugging Face folder; a llama2.c checkpoint"
                    + " needs --tokenizer tokenizer.bin");
        }
        long actualSeed = seed == -1 ? System.nanoTime() : seed;
        SamplingParams params = new SamplingParams(temperature, topK, topP, minP, repeatPenalty, actualSeed, maxNewTokens,
                stops, List.of(), false, numBeams, lengthPenalty); // refuses a value out of range: before the seed line
        if (seed == -1 && temperature > 0 && numBeams <= 1) {
            err.println("seed: " + actualSeed);
        }
        Speculation speculative = speculation.speculation(); // before loading: a bad value is a usage error
        Checkpoint checkpoint = llama2c ? null : Checkpoint.open(model, context);
        LanguageModel lm = null;
        try {
            if (llama2c && deviceOption.option().kind() != io.inferstream.runtime.backend.DeviceOption.Kind.CPU) {
                throw new IllegalArgumentException(model + " is a llama2.c checkpoint: only GGUF and Hugging Face models run on a GPU (--device "
                        + deviceOption.device + ")");
            }
            lm = llama2c ? deviceOption.quantizedOnTheCpu(Llama2cLoader.load(model), err) : deviceOption.load(checkpoint, err);
            Tokenizer tokenizer = llama2c ? Tokenizers.fromLlama2c(tokenizerPath) : checkpoint.tokenizer();
            boolean addBos = !noBos && tokenizer.bos() >= 0 && (llama2c || tokenizer.addBosByDefault());
            boolean parseSpecial = false;
            if (chat) {
                ChatTemplate template = llama2c ? ChatTemplate.plain() : checkpoint.chatTemplate(tokenizer);
                List<ChatMessage> messages = new ArrayList<>();
                if (system != null) {
                    messages.add(ChatMessage.system(system));
                }
                messages.add(ChatMessage.user(text));
                text = template.render(messages, true, templateVariables);
                // the template writes its special tokens as text; it may write BOS itself
                parseSpecial = true;
                String bosPiece = tokenizer.bos() >= 0 ? tokenizer.piece(tokenizer.bos()) : null;
                if (bosPiece != null && !bosPiece.isEmpty() && text.startsWith(bosPiece)) {
                    addBos = false;
                }
            }
            int[] tokens = tokenizer.encode(text, addBos, parseSpecial);
            if (tokens.length == 0) {
                throw new IllegalArgumentException("the prompt is empty and the vocabulary adds no BOS: give a prompt");
            }
            GenerationResult r = new Generator(lm, tokenizer, KvStore.Precision.F32, speculative).generate(tokens, params, piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            out.flush();
            err.printf(Locale.ROOT, "prompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s; finish: %s%n",
                    r.promptTokens(), r.prefillTokensPerSecond(), r.completionTokens(), r.decodeTokensPerSecond(),
                    r.finishReason().name().toLowerCase(Locale.ROOT));
            if (speculative.enabled()) {
                err.printf(Locale.ROOT, "speculative decoding: %d of %d guessed tokens kept (%.0f%%)%n", r.acceptedDraftTokens(),
                        r.draftTokens(), r.draftTokens() == 0 ? 0.0 : 100.0 * r.acceptedDraftTokens() / r.draftTokens());
            }
            return 0;
        } finally {
            if (lm != null) {
                lm.close(); // a GPU model frees its device memory
            }
            if (checkpoint != null) {
                checkpoint.close();
            }
        }
    }

    /** A file that is neither GGUF (by its magic) nor part of a Hugging Face folder: llama2.c's bare checkpoint. */
    private static boolean isLlama2c(Path path) {
        if (Files.isDirectory(path) || HuggingFaceCheckpoint.folderOf(path) != null) {
            return false;
        }
        try (var in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            return !(magic.length == 4 && new String(magic, StandardCharsets.US_ASCII).equals("GGUF"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model file " + path + ": " + e.getMessage(), e);
        }
    }

    private static String readStdin() {
        try {
            String s = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
            return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s; // the newline that ends the input line
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the prompt from standard input", e);
        }
    }
}
