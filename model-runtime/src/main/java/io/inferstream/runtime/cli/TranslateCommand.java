package io.inferstream.runtime.cli;

import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;

/** {@code inferstream translate}: the text in another language (sentence by sentence when it is long). */
@Command(name = "translate", mixinStandardHelpOptions = true, description = "Translate a text.")
public final class TranslateCommand extends TaskCommand {

    @Option(names = "--from", paramLabel = "LANG", description = "ISO 639 code of the text, e.g. en (optional)")
    String from;

    @Option(names = "--to", required = true, paramLabel = "LANG", description = "ISO 639 code to translate into, e.g. zh")
    String to;

    @Option(names = {"-n", "--max-new-tokens"}, description = "generated tokens at most (per chunk)")
    Integer maxNewTokens;

    public TranslateCommand() {
        this(System.out, System.err);
    }

    TranslateCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new TranslateCommand()).execute(args));
    }

    @Override
    TaskRequest.Builder request(String input) {
        return builder(Task.TRANSLATE, input).sourceLanguage(from).targetLanguage(to).maxNewTokens(maxNewTokens);
    }
}
