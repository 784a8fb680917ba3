package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.testing.SharedModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A replay whose job fails (here its model, a GGUF file cut short, fails to load in the task) ends with exit code 1
 * and one line that names the task's root cause, as {@code batch} does; it printed Flink's wrapped exception's 120
 * lines of stack trace before.
 */
class ReplayFailureTest {
    @Test
    @Timeout(120)
    void aReplayWhoseJobFailsSaysTheRootCauseInOneLine(@TempDir Path dir) throws Exception {
        Path cut = dir.resolve("cut.gguf");
        byte[] whole = Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf"));
        Files.write(cut, Arrays.copyOf(whole, whole.length / 2));
        for (String mode : new String[] {"replay", "replay --digest"}) {
            String[] args = mode.endsWith("--digest")
                    ? new String[] {"--digest", "--model", cut.toString(), "--kv-cache-memory", "16MiB"}
                    : new String[] {"--model", cut.toString(), "--kv-cache-memory", "16MiB", "--output",
                            dir.resolve("out").toString()};
            Run run = replay(args);
            int code = run.code();
            String text = run.err();
            assertEquals(1, code, mode + ":\n" + text);
            String job = mode.endsWith("--digest") ? "digest" : "streaming";
            assertTrue(text.contains(mode + ": the replay's " + job + " job failed: "
                    + "io.inferstream.runtime.gguf.GgufFormatException: " + cut), mode + ":\n" + text);
            assertTrue(text.contains("the file is truncated\n"), mode + ":\n" + text);
            assertFalse(text.contains("\tat "), mode + ": no stack trace:\n" + text);
        }
    }

    @Test
    void aReplayWhoseModelIsMissingSaysSoInOneLine(@TempDir Path dir) {
        String missing = dir.resolve("absent.gguf").toString();
        for (String mode : new String[] {"replay", "replay --digest"}) {
            String[] args = mode.endsWith("--digest") ? new String[] {"--digest", "--model", missing}
                    : new String[] {"--model", missing};
            Run run = replay(args);
            int code = run.code();
            String text = run.err();
            assertEquals(2, code, mode + ":\n" + text);
            assertEquals(mode + ": " + missing + ": model file not found (from '" + missing + "'); give an existing"
                    + " local path or hf://owner/repo/path[@revision]\n", text);
        }
    }

    private record Run(int code, String err) {
    }

    /** replay with {@code args}; its exit code and what it wrote on System.err. */
    private static Run replay(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = new CommandLine(new ReplayCommand()).execute(args);
            return new Run(code, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(stderr);
        }
    }
}
