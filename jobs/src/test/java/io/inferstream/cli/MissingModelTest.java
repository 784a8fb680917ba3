package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A model the stream, digest and batch commands cannot have, said in one line with exit code 2 before any job or
 * broker connection starts: a missing file, and an hf:// model that offline mode cannot find in the cache.
 */
class MissingModelTest {
    @TempDir
    Path tmp;

    private record Run(int code, String err) {
    }

    private static Run run(String... args) {
        StringWriter err = new StringWriter();
        int code = new CommandLine(new InferStream()).setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(err, true)).execute(args);
        return new Run(code, err.toString());
    }

    @Test
    void aMissingOrUncachedModelIsOneLine() {
        String missing = tmp.resolve("absent.gguf").toString();
        String spec = "hf://owner/repo/absent.gguf";
        for (String command : List.of("stream", "digest", "batch")) {
            List<String> prefix = new ArrayList<>(List.of(command));
            if (command.equals("batch")) {
                prefix.addAll(List.of(tmp.toString(), "--output", tmp.resolve("out").toString()));
            }
            List<String> local = new ArrayList<>(prefix);
            local.addAll(List.of("--model", missing));
            Run r = run(local.toArray(new String[0]));
            assertEquals(2, r.code(), command + ": " + r.err());
            assertTrue(r.err().contains(command + ": " + missing + ": model file not found (from '" + missing + "')"),
                    command + ": " + r.err());
            assertFalse(r.err().contains("\tat "), command + ": " + r.err());

            List<String> offline = new ArrayList<>(prefix);
            offline.addAll(List.of("--model", spec, "--offline", "--cache-dir", tmp.resolve("cache").toString()));
            Run o = run(offline.toArray(new String[0]));
            assertEquals(2, o.code(), command + ": " + o.err());
            assertTrue(o.err().contains(command + ": Offline mode (--offline, INFERSTREAM_OFFLINE or HF_HUB_OFFLINE) is on"
                    + " and " + spec + " is not in the cache."), command + ": " + o.err());
            assertFalse(o.err().contains("\tat "), command + ": " + o.err());
        }
    }

    @Test
    void aFileThatIsNotAModelAndABatchInputThatIsNotThereAreOneLine() throws Exception {
        Path notes = java.nio.file.Files.writeString(tmp.resolve("notes.gguf"), "not a model");
        Run r = run("stream", "--model", notes.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("stream: " + notes + ": not a GGUF file"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());

        Path absent = tmp.resolve("no-such-input");
        Run b = run("batch", absent.toString(), "--output", tmp.resolve("out").toString(), "--model",
                RandomModelWriter.write(ModelShape.TINY, GgmlType.Q8_0, 1, tmp.resolve("tiny.gguf")).toString());
        assertEquals(2, b.code(), b.err());
        assertTrue(b.err().endsWith("batch: input '" + absent + "' does not exist\n"), b.err());
    }
}
