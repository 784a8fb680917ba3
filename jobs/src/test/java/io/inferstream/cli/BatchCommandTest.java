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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code inferstream batch} as a person runs it, on its local MiniCluster. */
class BatchCommandTest {
    /**
     * A chunk job whose model cannot load fails in a task, under three of Flink's own exceptions: the command says so in
     * one line that ends with the task's reason (as {@code generate} does), not with 120 lines of stack trace.
     */
    @Test
    void aModelThatCannotLoadFailsTheRunWithItsReasonInOneLine(@TempDir Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("in"));
        Files.writeString(in.resolve("requests.jsonl"), "{\"id\": \"b1\", \"task\": \"GENERATE\", \"text\": \"Once upon\", "
                + "\"created_at\": 1764324930123}\n", StandardCharsets.UTF_8);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = new CommandLine(new BatchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                in.toString(), "--output", dir.resolve("out").toString(), "--slots", "1",
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--max-new-tokens", "4",
                "--kv-cache-memory", "16MiB", "--device", "cuda:9");

        CudaDevice.Probe here = CudaDevice.probe();
        String reason = here.available() ? "this machine has " + here.deviceCount() + " CUDA device(s)"
                : "--device cuda:9: no CUDA device: " + here.reason();
        assertEquals(1, rc, out + "\n" + err);
        assertTrue(err.toString().contains("batch: batch job over '" + in.resolve("requests.jsonl").toUri().toString()
                .replace("file:///", "file:/") + "' failed: java.lang.IllegalStateException: "), err.toString());
        assertTrue(err.toString().contains(reason), "expected " + reason + ":\n" + err);
        assertTrue(err.toString().contains("the same command resumes"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace:\n" + err);
        assertFalse(out.toString().contains("batch finished"), out.toString());
    }
}
