package io.inferstream.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.testing.SharedModels;
import picocli.CommandLine;

class GenerateCommandTest {

    private static final String OPENING = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new CommandLine(new GenerateCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8))).execute(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void greedyGenerationFromAGgufStreamsTheStoryAndReportsSpeed() {
        Run r = run("--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--prompt", "", "--temperature", "0", "-n", "40");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().strip().startsWith(OPENING), r.out());
        assertTrue(r.err().matches("(?s).*prompt: 1 tokens, [0-9.]+ tokens/s; generation: 40 tokens, [0-9.]+ tokens/s; finish: length.*"), r.err());
    }

    @Test
    void llama2cCheckpointWithItsTokenizerGivesTheSameText() {
        Run gguf = run("--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30");
        Run bin = run("--model", SharedModels.require("stories260K/stories260K.bin").toString(),
                "--tokenizer", SharedModels.require("stories260K/tok512.bin").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30");
        assertEquals(0, bin.exit(), bin.err());
        assertEquals(gguf.out(), bin.out());
    }

    @Test
    void aStopStringEndsGenerationAndIsCutOff() {
        Run r = run("--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--prompt", "", "--temperature", "0", "-n", "100", "--stop", "Lily");
        assertEquals(0, r.exit(), r.err());
        assertEquals("Once upon a time, there was a little girl named", r.out().strip());
        assertTrue(r.err().contains("finish: stop"), r.err());
    }

    @Test
    void aLlama2cCheckpointWithoutTokenizerIsRejectedWithTheReason() {
        Run r = run("--model", SharedModels.require("stories260K/stories260K.bin").toString(), "--prompt", "hi");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("needs --tokenizer"), r.err());
    }
}
