package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.testing.SharedModels;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code inferstream batch} as a person runs it, on its local MiniCluster. */
class BatchCommandTest {
    private static Path requests(Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("in"));
        Files.writeString(in.resolve("requests.jsonl"), "{\"id\": \"b1\", \"task\": \"GENERATE\", \"text\": \"Once upon\", "
                + "\"created_at\": 1764324930123}\n", StandardCharsets.UTF_8);
        return in;
    }

    /**
     * A chunk job whose engine cannot start (here a KV cache smaller than one block) fails in a task, under three of
     * Flink's own exceptions: the command says so in one line that ends with the task's reason (as {@code generate}
     * does), not with 120 lines of stack trace.
     */
    @Test
    void anEngineThatCannotStartFailsTheRunWithItsReasonInOneLine(@TempDir Path dir) throws Exception {
        Path in = requests(dir);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = new CommandLine(new BatchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                in.toString(), "--output", dir.resolve("out").toString(), "--slots", "1",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--max-new-tokens", "4", "--kv-cache-memory", "1KiB");

        assertEquals(1, rc, out + "\n" + err);
        Matcher line = Pattern.compile("batch: batch job over '(file:)?" + Pattern.quote(in.resolve("requests.jsonl").toString())
                + "' failed: (\\S+): (.*)").matcher(err.toString());
        assertTrue(line.find(), err.toString());
        assertTrue(line.group(3).contains("kv-cache-memory of 1024 bytes is smaller than one KV block"), err.toString());
        assertTrue(err.toString().contains("the same command resumes"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace:\n" + err);
        assertFalse(out.toString().contains("batch finished"), out.toString());
    }

    /** A local run reads the model's header before any job starts: a file cut short fails at once, naming it. */
    @Test
    void aModelFileCutShortFailsBeforeAnyJob(@TempDir Path dir) throws Exception {
        Path in = requests(dir);
        Path cut = dir.resolve("cut.gguf");
        byte[] whole = Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf"));
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length / 2));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = new CommandLine(new BatchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                in.toString(), "--output", dir.resolve("out").toString(), "--slots", "1", "--model", cut.toString());

        assertEquals(2, rc, out + "\n" + err);
        assertTrue(err.toString().contains("batch: " + cut + ": "), err.toString());
        assertTrue(err.toString().contains("the file is truncated"), err.toString());
        assertFalse(err.toString().contains("chunk job"), err.toString());
        assertFalse(Files.exists(dir.resolve("out")), "no job started");
    }

    /** The engines of a local run are in this JVM: a GPU that is not here fails before the cluster starts. */
    @Test
    void aLocalRunOnADeviceThatIsNotHereFailsAtOnce(@TempDir Path dir) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = new CommandLine(new BatchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                requests(dir).toString(), "--output", dir.resolve("out").toString(),
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--device", "cuda:9");

        CudaDevice.Probe here = CudaDevice.probe();
        String reason = here.available() ? "--device cuda:9: this machine has " + here.deviceCount() + " CUDA device(s)"
                : "--device cuda:9: no CUDA device: " + here.reason();
        assertEquals(2, rc, out + "\n" + err);
        assertTrue(err.toString().contains("batch: " + reason), "expected " + reason + ":\n" + err);
        assertFalse(err.toString().contains("batch run:"), "no run started:\n" + err);
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }
}
