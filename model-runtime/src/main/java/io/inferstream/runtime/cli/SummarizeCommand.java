package io.inferstream.runtime.cli;

import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;

/** {@code inferstream summarize}: a summary of the text (map-reduced over chunks when it is long). */
@Command(name = "summarize", mixinStandardHelpOptions = true, description = "Summarize a text.")
public final class SummarizeCommand extends TaskCommand {

    @Option(names = "--style", description = "target length or style, e.g. \"one sentence\", \"three bullet points\"")
    String style;

    @Option(names = {"-n", "--max-new-tokens"}, description = "generated tokens at most (per chunk)")
    Integer maxNewTokens;

    public SummarizeCommand() {
        this(System.out, System.err);
    }

    SummarizeCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SummarizeCommand()).execute(args));
    }

    @Override
    TaskRequest.Builder request(String input) {
        return builder(Task.SUMMARIZE, input).style(style).maxNewTokens(maxNewTokens);
    }
}
