package io.inferstream.runtime.cli;

import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** classify, summarize and translate end to end on stories260K. */
class TaskCommandsTest {

    private record Run(int exit, String out, String err) {
    }

    private static Run run(java.util.function.BiFunction<PrintStream, PrintStream, Object> command, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Object c = command.apply(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        int exit = new CommandLine(c).execute(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String model() {
        return SharedModels.require("stories260K/stories260K.gguf").toString();
    }

    @Test
    void classifyPrintsTheMostProbableLabelAndEveryProbability() {
        List<String> labels = List.of("happy", "sad", "angry");
        Run r = run(ClassifyCommand::new, "--model", model(), "--offline", "--text", "Lily laughed and played with her dog.",
                "--labels", String.join(",", labels));
        assertEquals(0, r.exit(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(1 + labels.size(), lines.length, r.out());
        double sum = 0;
        double best = -1;
        String bestLabel = null;
        for (int i = 1; i < lines.length; i++) {
            Matcher m = Pattern.compile("\\s*(\\S+)\\s+([0-9.]+)").matcher(lines[i]);
            assertTrue(m.matches(), lines[i]);
            assertEquals(labels.get(i - 1), m.group(1), "probabilities in label order");
            double p = Double.parseDouble(m.group(2));
            sum += p;
            if (p > best) {
                best = p;
                bestLabel = m.group(1);
            }
        }
        assertEquals(1.0, sum, 2e-4);
        assertEquals(bestLabel, lines[0].strip());
        assertTrue(r.err().contains("generated: 0 tokens"), r.err());
    }

    /** --device: the classify output of auto equals the CPU's; cuda names the missing device in one line (no GPU). */
    @Test
    void classifyOnTheDeviceAutoChoosesGivesTheCpuLabel() {
        String[] args = {"--model", model(), "--offline", "--text", "Lily laughed and played with her dog.", "--labels",
            "happy,sad,angry"};
        Run cpu = run(ClassifyCommand::new, args);
        Run auto = run(ClassifyCommand::new, concat(args, "--device", "auto"));
        assertEquals(0, auto.exit(), auto.err());
        assertTrue(auto.err().contains("--device auto: "), auto.err());
        assertEquals(cpu.out().strip().split("\n")[0], auto.out().strip().split("\n")[0], "the label");
        if (!io.inferstream.runtime.cuda.CudaDevice.probe().available()) {
            Run cuda = run(ClassifyCommand::new, concat(args, "--device", "cuda"));
            assertEquals(2, cuda.exit(), cuda.err());
            assertTrue(cuda.err().startsWith("classify: --device cuda: no CUDA device"), cuda.err());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void summarizeChunksALongTextInASmallContext() {
        String story = "Tom had a red ball. He liked to play with it in the park. One day the ball rolled into the pond. "
                .repeat(6);
        Run r = run(SummarizeCommand::new, "--model", model(), "--offline", "--text", story, "--context", "96", "-n", "8");
        assertEquals(0, r.exit(), r.err());
        Matcher m = Pattern.compile("chunks: (\\d+)").matcher(r.err());
        assertTrue(m.find(), r.err());
        assertTrue(Integer.parseInt(m.group(1)) >= 2, r.err());
    }

    @Test
    void translateReportsABadLanguageCodeAndFails() {
        Run r = run(TranslateCommand::new, "--model", model(), "--offline", "--text", "Hello.", "--to", "qqx");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("translate: ERROR: unknown language code 'qqx'"), r.err());
        Run ok = run(TranslateCommand::new, "--model", model(), "--offline", "--text", "The cat sat.", "--from", "en", "--to", "fr", "-n", "8");
        assertEquals(0, ok.exit(), ok.err());
        assertTrue(ok.err().matches("(?s).*prompt: \\d+ tokens; generated: [1-8] tokens; chunks: 1; finish: (stop|length).*"), ok.err());
    }

    /** A truncated model file is a one-line error that names the file and what is missing, not a stack trace. */
    @Test
    void aTruncatedModelFileFailsInOneLine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        byte[] content = java.nio.file.Files.readAllBytes(java.nio.file.Path.of(model()));
        java.nio.file.Path truncated = dir.resolve("truncated.gguf");
        java.nio.file.Files.write(truncated, java.util.Arrays.copyOf(content, content.length / 2));
        Run r = run(ClassifyCommand::new, "--model", truncated.toString(), "--offline", "--text", "Lily", "--labels", "a,b");
        assertEquals(2, r.exit());
        assertFalse(r.err().contains("\tat "), r.err());
        assertTrue(r.err().strip().matches("classify: \\S*truncated\\.gguf: tensor '[^']+' data .* the file is truncated"), r.err());
    }
}
