package io.inferstream.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.hub.LocalHubServer;
import io.inferstream.runtime.testing.SharedModels;
import picocli.CommandLine;

/** {@code inferstream tokenize} prints llama.cpp's ids for the test vocabularies. */
class TokenizeCommandTest {

    record Run(int exit, String out, String err) {
    }

    static Run run(String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new TokenizeCommand(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    static String path(String relative) {
        return SharedModels.require(relative).toString();
    }

    @Test
    void ggufModelPrintsIdsWithBosByDefault() {
        // llama-spm vectors: "Hello world" -> 15043 3186; the vocabulary adds BOS 1 by default.
        Run r = run("", "--model", path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"), "--text", "Hello world");
        assertEquals(0, r.exit, r.err);
        assertEquals("1 15043 3186" + System.lineSeparator(), r.out);
    }

    @Test
    void noBosDropsTheBosToken() {
        Run r = run("", "--model", path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"), "--text", "Hello world", "--no-bos");
        assertEquals("15043 3186", r.out.trim());
    }

    @Test
    void textComesFromStandardInputAsIs() {
        // gpt-2 vectors: " Hello, world!" -> 18435 11 995 0; the trailing newline is text too (198).
        Run r = run(" Hello, world!\n", "--tokenizer", path("hf-tokenizers/gpt2"));
        assertEquals(0, r.exit, r.err);
        assertEquals("18435 11 995 0 198", r.out.trim());
    }

    @Test
    void parseSpecialMatchesSpecialTokensWrittenInTheText() {
        // gpt-2 vectors: "Hello" -> 15496, " Hello" -> 18435; <|endoftext|> is 50256.
        String gpt2 = path("hf-tokenizers/gpt2");
        assertEquals("15496 50256 18435",
                run("", "--tokenizer", gpt2, "--text", "Hello<|endoftext|> Hello", "--parse-special").out.trim());
        String plain = run("", "--tokenizer", gpt2, "--text", "Hello<|endoftext|> Hello").out.trim();
        assertTrue(plain.startsWith("15496 ") && !plain.contains("50256"), plain);
    }

    @Test
    void tiktokenAndLlama2cFilesAreAccepted() {
        assertEquals("128000 9906 1917", run("", "--tokenizer", path("hf-tokenizers/llama3/tokenizer.model"),
                "--text", "Hello world").out.trim());
        String fromBin = run("", "--tokenizer", path("stories260K/tok512.bin"), "--text", "Once upon a time").out.trim();
        String fromGguf = run("", "--model", path("stories260K/stories260K.gguf"), "--text", "Once upon a time").out.trim();
        assertEquals(fromGguf, fromBin);
        assertTrue(fromBin.startsWith("1 "));
    }

    @Test
    void missingFileFailsWithItsName() {
        Run r = run("", "--tokenizer", "/nonexistent/tokenizer.json", "--text", "x");
        assertEquals(1, r.exit);
        assertTrue(r.err.contains("/nonexistent/tokenizer.json"), r.err);
    }

    @Test
    void modelAndTokenizerAreMutuallyExclusiveAndOneIsRequired() {
        assertEquals(2, run("", "--text", "x").exit);
        assertEquals(2, run("", "--model", "a.gguf", "--tokenizer", "b", "--text", "x").exit);
    }

    @Test
    void hfSpecsAreDownloadedOnceAndTokenizeAsTheLocalFiles(@TempDir Path dir) throws Exception {
        Path gguf = SharedModels.require("stories260K/stories260K.gguf");
        Path tiktoken = SharedModels.require("hf-tokenizers/llama3/tokenizer.model");
        String text = "Once upon a time, Lily";
        String fromGguf = run("", "--model", gguf.toString(), "--text", text).out;
        String fromTiktoken = run("", "--tokenizer", tiktoken.toString(), "--text", text).out;
        try (LocalHubServer hub = new LocalHubServer()) {
            hub.put("/test-owner/stories/resolve/main/stories260K.gguf", Files.readAllBytes(gguf));
            hub.put("/test-owner/llama3/resolve/main/tokenizer.model", Files.readAllBytes(tiktoken));
            String[] options = {"--cache-dir", dir.resolve("cache").toString(), "--hf-endpoint", hub.baseUrl().toString(),
                    "--text", text};
            Run model = run("", append(options, "--model", "hf://test-owner/stories/stories260K.gguf"));
            assertEquals(0, model.exit, model.err);
            assertEquals(fromGguf, model.out);
            Run tokenizer = run("", append(options, "--tokenizer", "hf://test-owner/llama3/tokenizer.model"));
            assertEquals(0, tokenizer.exit, tokenizer.err);
            assertEquals(fromTiktoken, tokenizer.out);
            int requests = hub.requests().size();
            assertEquals(fromGguf, run("", append(options, "--model", "hf://test-owner/stories/stories260K.gguf")).out);
            assertEquals(requests, hub.requests().size(), "the second run reads the cache");
            Run absent = run("", append(options, "--tokenizer", "hf://test-owner/llama3/nothing.json"));
            assertEquals(1, absent.exit);
            assertTrue(absent.err.startsWith("tokenize: ") && absent.err.contains("nothing.json")
                    && absent.err.strip().lines().count() == 1, absent.err);
        }
        Run offline = run("", "--offline", "--cache-dir", dir.resolve("empty").toString(), "--tokenizer",
                "hf://test-owner/llama3/tokenizer.model", "--text", text);
        assertEquals(1, offline.exit);
        assertTrue(offline.err.startsWith("tokenize: ") && offline.err.strip().lines().count() == 1, offline.err);
    }

    private static String[] append(String[] head, String... tail) {
        String[] all = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }
}
