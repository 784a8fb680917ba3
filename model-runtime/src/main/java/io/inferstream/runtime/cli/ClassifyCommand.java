package io.inferstream.runtime.cli;

import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskDefaults;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code inferstream classify}: the most likely of the given labels, then every label's probability. */
@Command(name = "classify", mixinStandardHelpOptions = true,
        description = "Classify a text into one of the given labels by label log-likelihood.")
public final class ClassifyCommand extends TaskCommand {

    @Option(names = "--labels", required = true, split = ",", description = "candidate labels, comma-separated")
    List<String> labels;

    @Option(names = "--length-normalized", description = "score labels by mean instead of summed token log-likelihood")
    boolean lengthNormalized;

    @Option(names = "--multi-label", paramLabel = "THRESHOLD", description = "return every label with at least this probability")
    Double multiLabel;

    public ClassifyCommand() {
        this(System.out, System.err);
    }

    ClassifyCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ClassifyCommand()).execute(args));
    }

    @Override
    TaskRequest.Builder request(String input) {
        return builder(Task.CLASSIFY, input).labels(labels);
    }

    @Override
    TaskDefaults defaults() {
        TaskDefaults d = TaskDefaults.standard().withLengthNormalized(lengthNormalized);
        return multiLabel == null ? d : d.withMultiLabel(true, multiLabel);
    }

    @Override
    void print(TaskResult result) {
        out.println(result.output());
        for (Map.Entry<String, Double> e : result.labelProbabilities().entrySet()) {
            out.printf(Locale.ROOT, "  %-20s %.4f%n", e.getKey(), e.getValue());
        }
    }
}
