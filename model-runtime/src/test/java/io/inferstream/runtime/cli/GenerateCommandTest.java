package io.inferstream.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.hub.LocalHubServer;
import io.inferstream.runtime.model.Llama2cHfExport;

import io.inferstream.runtime.testing.GgufRewrite;
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
    void speculativeTokensGiveTheSameTextAndSayHowManyGuessesWereKept() {
        String model = SharedModels.require("stories260K/stories260K.gguf").toString();
        for (String[] sampling : new String[][] {{"--temperature", "0"}, {"--temperature", "0.8", "--seed", "9"}}) {
            Run plain = run(append(new String[] {"--model", model, "--prompt", "Lily and Ben. Lily and Ben", "-n", "120"}, sampling));
            Run guessed = run(append(append(new String[] {"--model", model, "--prompt", "Lily and Ben. Lily and Ben", "-n", "120"},
                    sampling), "--speculative-tokens", "4"));
            assertEquals(0, guessed.exit(), guessed.err());
            assertEquals(plain.out(), guessed.out());
            assertFalse(plain.err().contains("speculative decoding"), plain.err());
            assertTrue(guessed.err().matches("(?s).*speculative decoding: [1-9][0-9]* of [0-9]+ guessed tokens kept \\([0-9]+%\\).*"),
                    guessed.err());
        }
        Run bad = run("--model", model, "--prompt", "Lily", "-n", "5", "--temperature", "0", "--speculative-tokens", "2", "--prompt-lookup-min", "3",
                "--prompt-lookup-max", "2");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().startsWith("generate: prompt lookup needs 1 <= --prompt-lookup-min <= --prompt-lookup-max"), bad.err());
    }

    /**
     * --device: auto says which backend it chose and gives the CPU's greedy text on a machine without a GPU, and
     * the same text on the GPU where there is one; cuda fails with the reason where there is none (and on a GPU
     * machine gives the CPU's text too: stories260K greedy is token-identical on both backends); a llama2.c
     * checkpoint on a GPU is refused by name.
     */
    @Test
    void deviceOptionChoosesTheBackendAndSaysWhich() {
        String model = SharedModels.require("stories260K/stories260K.gguf").toString();
        Run cpu = run("--model", model, "--prompt", "Lily", "--temperature", "0", "-n", "30", "--device", "cpu");
        assertEquals(0, cpu.exit(), cpu.err());
        assertTrue(cpu.err().contains("--device cpu: using the CPU backend"), cpu.err());
        boolean gpu = io.inferstream.runtime.cuda.CudaDevice.probe().available();
        Run auto = run("--model", model, "--prompt", "Lily", "--temperature", "0", "-n", "30", "--device", "auto");
        assertEquals(0, auto.exit(), auto.err());
        assertTrue(auto.err().contains(gpu ? "using the CUDA backend" : "no CUDA device"), auto.err());
        assertEquals(cpu.out(), auto.out(), "greedy text on the backend auto chose");
        Run cuda = run("--model", model, "--prompt", "Lily", "--temperature", "0", "-n", "30", "--device", "cuda");
        if (gpu) {
            assertEquals(0, cuda.exit(), cuda.err());
            assertEquals(cpu.out(), cuda.out(), "greedy text on the GPU");
        } else {
            assertEquals(2, cuda.exit(), cuda.err());
            assertTrue(cuda.err().startsWith("generate: --device cuda: no CUDA device"), cuda.err());
        }
        Run bin = run("--model", SharedModels.require("stories260K/stories260K.bin").toString(),
                "--tokenizer", SharedModels.require("stories260K/tok512.bin").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30", "--device", "cuda");
        assertEquals(2, bin.exit(), bin.err());
        assertTrue(bin.err().contains("only GGUF and Hugging Face models run on a GPU"), bin.err());
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
        // --quantize re-encodes the same F32 weights the same way whichever file they came from
        Run ggufQ8 = run("--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30", "--quantize", "q8_0");
        Run binQ8 = run("--model", SharedModels.require("stories260K/stories260K.bin").toString(),
                "--tokenizer", SharedModels.require("stories260K/tok512.bin").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30", "--quantize", "q8_0");
        assertEquals(0, binQ8.exit(), binQ8.err());
        assertTrue(ggufQ8.err().contains("--quantize q8_0: float weight matrices re-encoded as Q8_0") && binQ8.err().contains(
                "--quantize q8_0: float weight matrices re-encoded as Q8_0"), ggufQ8.err() + binQ8.err());
        assertEquals(ggufQ8.out(), binQ8.out());
    }

    @Test
    void aHuggingFaceFolderGivesTheGgufsText(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("stories260K-hf");
        Llama2cHfExport.export(SharedModels.require("stories260K/stories260K.bin"),
                SharedModels.require("stories260K/tok512.model"), folder);
        Run gguf = run("--model", SharedModels.require("stories260K/stories260K.gguf").toString(),
                "--prompt", "Lily", "--temperature", "0", "-n", "30");
        Run hf = run("--model", folder.toString(), "--prompt", "Lily", "--temperature", "0", "-n", "30");
        assertEquals(0, hf.exit(), hf.err());
        assertEquals(gguf.out(), hf.out());
        Run missing = run("--model", dir.toString(), "--prompt", "Lily", "-n", "3");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("is a folder without config.json"), missing.err());
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
    void chatRendersThePromptThroughTheModelsTemplateWithoutDoublingBos(@TempDir Path dir) throws Exception {
        Path original = SharedModels.require("stories260K/stories260K.gguf");
        Path withTemplate = withChatTemplate(original, dir.resolve("chat.gguf"),
                "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% endif %}{% endfor %}");
        Run chat = run("--model", withTemplate.toString(), "--chat", "--prompt", "Lily", "--temperature", "0", "-n", "25");
        // the same text written by hand, tokenized with the one default BOS
        Run byHand = run("--model", original.toString(), "--prompt", "[INST] Lily [/INST]", "--temperature", "0", "-n", "25");
        assertEquals(0, chat.exit(), chat.err());
        assertTrue(chat.err().contains("prompt: " + promptTokens(byHand.err()) + " tokens"), chat.err() + " vs " + byHand.err());
        assertEquals(byHand.out(), chat.out());
    }

    /** --thinking binds enable_thinking for the template (a Qwen3-style switch); unset leaves it undefined. */
    @Test
    void thinkingOptionBindsEnableThinkingForTheTemplate(@TempDir Path dir) throws Exception {
        Path original = SharedModels.require("stories260K/stories260K.gguf");
        Path withTemplate = withChatTemplate(original, dir.resolve("thinking.gguf"),
                "{% for m in messages %}{{ m['content'] }}{% endfor %}"
                        + "{% if enable_thinking is defined and enable_thinking is false %} was happy.{% endif %}"
                        + "{% if enable_thinking is defined and enable_thinking %} was sad.{% endif %}");
        String[] common = {"--model", withTemplate.toString(), "--chat", "--prompt", "Lily", "--temperature", "0", "-n", "20"};
        for (String[] mode : new String[][] {{"--thinking=off", "Lily was happy."}, {"--thinking=on", "Lily was sad."}, {null, "Lily"}}) {
            Run chat = run(mode[0] == null ? common : append(common, mode[0]));
            Run byHand = run("--model", original.toString(), "--prompt", mode[1], "--temperature", "0", "-n", "20");
            assertEquals(0, chat.exit(), chat.err());
            assertEquals(byHand.out(), chat.out(), mode[0] + " renders " + mode[1]);
        }
        Run bad = run(append(common, "--thinking=maybe"));
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().contains("--thinking takes on or off"), bad.err());
    }

    private static String[] append(String[] args, String... more) {
        String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return all;
    }

    /** The GGUF with a chat template added: metadata and tensors copied unchanged. */
    private static Path withChatTemplate(Path original, Path out, String template) {
        return GgufRewrite.rewrite(original, out, name -> true, w -> w.putString("tokenizer.chat_template", template));
    }

    private static String promptTokens(String err) {
        return err.replaceAll("(?s).*prompt: (\\d+) tokens.*", "$1");
    }

    @Test
    void aLlama2cCheckpointWithoutTokenizerIsRejectedWithTheReason() {
        Run r = run("--model", SharedModels.require("stories260K/stories260K.bin").toString(), "--prompt", "hi");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("needs --tokenizer"), r.err());
    }

    /** A sampling option out of its range is a usage error in one line, before anything is loaded or printed. */
    @Test
    void aSamplingOptionOutOfRangeIsRefusedInOneLine() {
        String model = SharedModels.require("stories260K/stories260K.gguf").toString();
        Run r = run("--model", model, "--prompt", "Lily", "--temperature", "-1");
        assertEquals(2, r.exit());
        assertEquals("generate: temperature must be a finite number >= 0 (0 = greedy), got -1.0", r.err().strip());
        assertEquals("", r.out());
        r = run("--model", model, "--prompt", "Lily", "--top-p", "1.5");
        assertEquals(2, r.exit());
        assertEquals("generate: top-p must be in (0, 1] (1 = off), got 1.5", r.err().strip());
    }

    /**
     * --model takes what the other commands take: an hf:// file is downloaded once into the cache and gives the local
     * file's text; a missing, a truncated and a corrupt file each fail in one line that names the file.
     */
    @Test
    void anHfModelIsFetchedOnceAndABadModelFileFailsInOneLine(@TempDir Path dir) throws Exception {
        Path gguf = SharedModels.require("stories260K/stories260K.gguf");
        byte[] content = Files.readAllBytes(gguf);
        String[] greedy = {"--prompt", "Lily", "--temperature", "0", "-n", "30"};
        Run local = run(append(new String[] {"--model", gguf.toString()}, greedy));
        assertEquals(0, local.exit(), local.err());
        try (LocalHubServer hub = new LocalHubServer()) {
            hub.put("/test-owner/stories/resolve/main/stories260K.gguf", content);
            String[] fetch = {"--model", "hf://test-owner/stories/stories260K.gguf", "--cache-dir", dir.resolve("cache").toString(),
                    "--hf-endpoint", hub.baseUrl().toString()};
            Run fetched = run(append(fetch, greedy));
            assertEquals(0, fetched.exit(), fetched.err());
            assertEquals(local.out(), fetched.out());
            int requests = hub.requests().size();
            Run cached = run(append(fetch, greedy));
            assertEquals(local.out(), cached.out());
            assertEquals(requests, hub.requests().size(), "the second run reads the cache");
        }
        Run missing = run("--model", dir.resolve("none.gguf").toString(), "--prompt", "Lily");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().strip().matches("generate: \\S*none\\.gguf: model file not found .*"), missing.err());
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, java.util.Arrays.copyOf(content, content.length - 4096));
        Run cut = run("--model", truncated.toString(), "--prompt", "Lily", "--temperature", "0");
        assertEquals(2, cut.exit());
        assertFalse(cut.err().contains("\tat "), cut.err());
        assertTrue(cut.err().strip().matches("generate: \\S*truncated\\.gguf: tensor '[^']+' data .* lies beyond the end of the file"
                + " \\(\\d+ bytes\\): the file is truncated"), cut.err());
        Path header = dir.resolve("header.gguf");
        Files.write(header, java.util.Arrays.copyOf(content, 100));
        Run corrupt = run("--model", header.toString(), "--prompt", "Lily", "--temperature", "0");
        assertEquals(2, corrupt.exit());
        assertTrue(corrupt.err().strip().matches("generate: \\S*header\\.gguf: truncated or corrupt header: .*"), corrupt.err());
    }
}
