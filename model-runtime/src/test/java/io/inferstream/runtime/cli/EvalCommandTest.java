package io.inferstream.runtime.cli;

import io.inferstream.runtime.eval.EvalDataset;
import io.inferstream.runtime.eval.EvalExample;
import io.inferstream.runtime.eval.EvalReport;
import io.inferstream.runtime.eval.TaskEvaluation;
import io.inferstream.runtime.testing.SharedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class EvalCommandTest {

    private static final int LIMIT = 8;
    private static final int MAX_NEW = 16;

    @Test
    void evalRunsTheSampleSetsAndWritesMarkdownJsonAndAReliabilityDiagram(@TempDir Path out) throws Exception {
        Path data = SharedModels.repositoryRoot().resolve("sample-data/eval");
        Path cls = data.resolve("classification.jsonl");
        Path sum = data.resolve("summarization.jsonl");
        Path tr = data.resolve("translation.jsonl");
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int exit = new CommandLine(new EvalCommand(new PrintStream(stdout, true, StandardCharsets.UTF_8),
                new PrintStream(stderr, true, StandardCharsets.UTF_8))).execute(
                "--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--offline",
                "--data", cls.toString(), sum.toString(), tr.toString(),
                "--limit", "" + LIMIT, "--max-new-tokens", "" + MAX_NEW, "--context", "512", "--out", out.toString());
        assertEquals(0, exit, stderr.toString(StandardCharsets.UTF_8));

        EvalReport report = EvalReport.fromJson(Files.readString(out.resolve("report.json")));
        assertEquals("stories260K.gguf", report.model());
        // One row per task of each file (translations per language pair), in file order.
        List<String> expectedRows = new ArrayList<>();
        for (Path f : List.of(cls, sum, tr)) {
            Set<String> rows = new LinkedHashSet<>();
            for (EvalExample e : EvalDataset.read(f).subList(0, LIMIT)) {
                rows.add(e.task().equals("TRANSLATE") ? "TRANSLATE " + e.sourceLanguage() + "-" + e.targetLanguage() : e.task());
            }
            expectedRows.addAll(rows);
        }
        assertEquals(expectedRows, report.tasks().stream().map(TaskEvaluation::task).toList());
        int examples = 0;
        for (TaskEvaluation t : report.tasks()) {
            examples += t.examples();
            assertTrue(t.promptTokens() > 0 && t.elapsedSeconds() > 0, t.task());
            assertFalse(t.metrics().containsKey("errors"), t.task() + " had failed examples: " + stderr);
            if (t.task().equals("CLASSIFY")) {
                assertEquals(LIMIT, t.examples());
                assertEquals(0, t.generatedTokens(), "labels are scored, not generated");
                assertTrue(t.metrics().keySet().containsAll(List.of("accuracy", "macro_f1", "ece")));
                assertFalse(t.calibrationBins().isEmpty());
            } else {
                assertTrue(t.generatedTokens() >= t.examples() && t.generatedTokens() <= (long) t.examples() * MAX_NEW, t.task());
                assertTrue(t.metrics().containsKey("rougeL_f"), t.task());
            }
        }
        assertEquals(3 * LIMIT, examples);

        String markdown = Files.readString(out.resolve("report.md"));
        assertTrue(markdown.startsWith("# Evaluation: stories260K.gguf"), markdown);
        assertEquals(markdown, stdout.toString(StandardCharsets.UTF_8), "the report is printed too");
        byte[] png = Files.readAllBytes(out.resolve("reliability-classification.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    }

    @Test
    void aMissingDataFileFailsWithItsName(@TempDir Path out) {
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int exit = new CommandLine(new EvalCommand(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(stderr, true, StandardCharsets.UTF_8)))
                .setErr(new java.io.PrintWriter(stderr, true))
                .execute("--model", SharedModels.require("stories260K/stories260K.gguf").toString(), "--offline",
                        "--data", out.resolve("nope.jsonl").toString(), "--out", out.toString());
        assertNotEquals(0, exit);
        assertTrue(stderr.toString(StandardCharsets.UTF_8).contains("nope.jsonl"), stderr.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aFileThatIsNotAModelFailsWithItsNameInOneLine(@TempDir Path out) throws Exception {
        Path notes = java.nio.file.Files.writeString(out.resolve("notes.gguf"), "not a model");
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int exit = new CommandLine(new EvalCommand(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(stderr, true, StandardCharsets.UTF_8)))
                .setErr(new java.io.PrintWriter(stderr, true))
                .execute("--model", notes.toString(), "--offline", "--data",
                        SharedModels.repositoryRoot().resolve("sample-data/eval/classification.jsonl").toString(),
                        "--out", out.toString());
        String text = stderr.toString(StandardCharsets.UTF_8);
        assertEquals(2, exit, text);
        assertTrue(text.startsWith("eval: " + notes + ": not a GGUF file"), text);
        assertEquals(1, text.lines().count(), text);
    }

    @Test
    void aBadDataSetFailsBeforeTheModelIsLookedFor(@TempDir Path out) throws Exception {
        Path set = java.nio.file.Files.writeString(out.resolve("set.jsonl"),
                "{\"id\":\"s\",\"task\":\"SUMMARIZE\",\"text\":\"x\"}\n");
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int exit = new CommandLine(new EvalCommand(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(stderr, true, StandardCharsets.UTF_8)))
                .execute("--model", "hf://nobody/nothing/none.gguf", "--offline", "--cache-dir", out.resolve("cache").toString(),
                        "--data", set.toString(), "--out", out.toString());
        String text = stderr.toString(StandardCharsets.UTF_8);
        assertEquals(2, exit, text);
        assertEquals("eval: " + set + ":1: SUMMARIZE example 's' has no 'reference'", text.strip());
    }
}
