package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.testing.GgufRewrite;
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
 * A replay whose job fails (here its model, a GGUF file without one of its tensors, fails to load in the task) ends
 * with exit code 1 and one line that names the task's root cause, as {@code batch} does; it printed Flink's wrapped
 * exception's 120 lines of stack trace before. A model whose headers cannot be read (a file cut short) fails before
 * any broker or job starts, with exit code 2.
 */
class ReplayFailureTest {
    @Test
    @Timeout(120)
    void aReplayWhoseJobFailsSaysTheRootCauseInOneLine(@TempDir Path dir) throws Exception {
        Path lacking = GgufRewrite.rewrite(SharedModels.require("stories260K/stories260K.gguf"),
                dir.resolve("lacking.gguf"), name -> !name.equals("blk.0.attn_k.weight"), w -> { });
        for (String mode : new String[] {"replay", "replay --digest"}) {
            String[] args = mode.endsWith("--digest")
                    ? new String[] {"--digest", "--model", lacking.toString(), "--kv-cache-memory", "16MiB"}
                    : new String[] {"--model", lacking.toString(), "--kv-cache-memory", "16MiB", "--output",
                            dir.resolve("out").toString()};
            Run run = replay(args);
            int code = run.code();
            String text = run.err();
            assertEquals(1, code, mode + ":\n" + text);
            String job = mode.endsWith("--digest") ? "digest" : "streaming";
            assertTrue(text.contains(mode + ": the replay's " + job + " job failed: "
                    + "java.lang.IllegalArgumentException: " + lacking + ": tensor blk.0.attn_k.weight is missing\n"),
                    mode + ":\n" + text);
            assertFalse(text.contains("\tat "), mode + ": no stack trace:\n" + text);
        }
    }

    @Test
    void aReplayWhoseModelIsCutShortSaysSoBeforeStartingAnything(@TempDir Path dir) throws Exception {
        Path cut = dir.resolve("cut.gguf");
        byte[] whole = Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf"));
        Files.write(cut, Arrays.copyOf(whole, whole.length / 2));
        for (String mode : new String[] {"replay", "replay --digest"}) {
            Path out = dir.resolve("out-" + mode.length());
            String[] args = mode.endsWith("--digest")
                    ? new String[] {"--digest", "--model", cut.toString(), "--output", out.toString()}
                    : new String[] {"--model", cut.toString(), "--output", out.toString()};
            long start = System.nanoTime();
            Run run = replay(args);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(2, run.code(), mode + ":\n" + run.err());
            assertTrue(run.err().matches(java.util.regex.Pattern.quote(mode + ": " + cut + ": tensor '")
                    + "[^\n]*' data \\[\\d+, \\d+\\) lies beyond the end of the file \\(" + whole.length / 2
                    + " bytes\\): the file is truncated\n"), mode + ":\n" + run.err());
            assertFalse(Files.exists(out), mode + ": nothing written before the check");
            // no broker, no job: the check reads the header only (a started broker alone takes seconds)
            assertTrue(seconds < 10, mode + " took " + seconds + " s");
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
