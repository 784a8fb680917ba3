package io.inferstream.cli;

import io.inferstream.jobs.StreamingInferenceJob;
import io.inferstream.jobs.digest.DigestJob;
import io.inferstream.runtime.cli.BenchCommand;
import io.inferstream.runtime.cli.ClassifyCommand;
import io.inferstream.runtime.cli.EvalCommand;
import io.inferstream.runtime.cli.GenerateCommand;
import io.inferstream.runtime.cli.ModelsCommand;
import io.inferstream.runtime.cli.SummarizeCommand;
import io.inferstream.runtime.cli.TokenizeCommand;
import io.inferstream.runtime.cli.TranslateCommand;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code inferstream} command line: every command of the product under one name. */
@Command(name = "inferstream", mixinStandardHelpOptions = true, version = "inferstream " + InferStream.VERSION,
        description = "LLM inference as a Flink stream-processing job, with a Java transformer runtime.",
        subcommands = {
            ReplayCommand.class,
            StreamingInferenceJob.class,
            DigestJob.class,
            BatchCommand.class, SubmitCommand.class, StatusCommand.class, StopCommand.class, CancelCommand.class,
            GenerateCommand.class,
            ClassifyCommand.class, SummarizeCommand.class, TranslateCommand.class,
            TokenizeCommand.class,
            BenchCommand.class,
            EvalCommand.class,
            ModelsCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class InferStream implements Runnable {
    public static final String VERSION = "0.1.0-SNAPSHOT";

    public static void main(String[] args) {
        System.exit(new CommandLine(new InferStream()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /**
     * The repository this command runs from: {@code -Dinferstream.home} (deploy/inferstream sets it), else three
     * folders above jobs/target/classes; null when neither looks like the repository.
     */
    static Path repositoryRoot() {
        String home = System.getProperty("inferstream.home");
        if (home != null && !home.isBlank()) {
            return Path.of(home).toAbsolutePath().normalize();
        }
        try {
            Path classes = Path.of(InferStream.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path root = classes.getParent() == null ? null : classes.getParent().getParent();
            root = root == null ? null : root.getParent();
            return root != null && Files.isDirectory(root.resolve("sample-data")) ? root : null;
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }
}
