package io.inferstream.runtime.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream tokenize}: prints the token ids of a text, space-separated on one line, like
 * llama.cpp's llama-tokenize. The tokenizer comes from a GGUF model or from tokenizer files.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text (from --text or standard input), space-separated on one line.")
public final class TokenizeCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--model", paramLabel = "MODEL", description = "A GGUF model (its tokenizer.ggml.* vocabulary) or a Hugging"
                + " Face model folder (its tokenizer files); a local path, hf://owner/repo/file.gguf or hf://owner/repo.")
        String model;

        @Option(names = "--tokenizer", paramLabel = "PATH",
                description = "tokenizer.json, a folder with vocab.json + merges.txt, a tiktoken or SentencePiece tokenizer.model,"
                        + " or llama2.c's tokenizer .bin; a local path or one file as hf://owner/repo/tokenizer.json.")
        String tokenizer;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Mixin
    HubCliOptions hub;

    @Option(names = "--text", paramLabel = "TEXT", description = "The text (default: all of standard input, as is).")
    String text;

    @Option(names = "--no-bos", description = "Do not prepend BOS even when the vocabulary adds it by default.")
    boolean noBos;

    @Option(names = "--parse-special", description = "Match special tokens written in the text (e.g. <|im_start|>).")
    boolean parseSpecial;

    @Spec
    CommandSpec spec;

    private final InputStream stdin;

    public TokenizeCommand() {
        this(System.in);
    }

    /** @param stdin where the text is read from when --text is not given (tests pass their own) */
    public TokenizeCommand(InputStream stdin) {
        this.stdin = stdin;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Tokenizer tokenizer;
        try {
            tokenizer = load(); // before standard input: a bad --model or --tokenizer need not wait for the text
        } catch (IllegalArgumentException | GgufFormatException | UncheckedIOException | IOException e) {
            err.println("tokenize: " + e.getMessage());
            err.flush();
            return 1;
        }
        try {
            String input = text != null ? text : new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
            int[] ids = tokenizer.encode(input, !noBos && tokenizer.addBosByDefault(), parseSpecial);
            StringJoiner line = new StringJoiner(" ");
            for (int id : ids) {
                line.add(Integer.toString(id));
            }
            out.println(line);
            out.flush();
            return 0;
        } catch (IllegalArgumentException | UncheckedIOException e) {
            err.println("tokenize: " + e.getMessage());
            err.flush();
            return 1;
        } catch (IOException e) {
            err.println("tokenize: cannot read standard input: " + e.getMessage());
            err.flush();
            return 1;
        }
    }

    /** The tokenizer of --model or --tokenizer, an hf:// spec downloaded once into the cache. */
    private Tokenizer load() throws IOException {
        if (source.model != null) {
            try (Checkpoint checkpoint = Checkpoint.open(hub.resolver().resolve(source.model))) {
                return checkpoint.tokenizer();
            }
        }
        Path p = hub.resolver().resolve(source.tokenizer);
        if (p.getFileName() != null && p.getFileName().toString().endsWith(".bin")) {
            return Tokenizers.fromLlama2c(p);
        }
        return Tokenizers.fromHuggingFace(p);
    }
}
