package io.inferstream.runtime.bench;

import io.inferstream.runtime.cli.BenchCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BenchCommandTest {

    @Test
    void benchOnATinyRandomModelWritesOneCsvRowPerModeAndAPlot(@TempDir Path dir) throws Exception {
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        int rc = new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--requests", "6",
                "--prompt-length", "12", "--output-length", "5", "--concurrency", "3", "--out", dir.resolve("out").toString());
        assertEquals(0, rc);
        List<String> csv = Files.readAllLines(dir.resolve("out/bench.csv"));
        assertEquals(4, csv.size(), String.join("\n", csv));
        assertTrue(csv.get(1).startsWith("one-at-a-time,6,72,30,"), csv.get(1)); // 6 x 12 prompt, 6 x 5 output tokens
        assertTrue(csv.get(2).startsWith("static-batch,6,72,30,"));
        assertTrue(csv.get(3).startsWith("continuous,6,72,30,"));
        // a CPU run measures its FMA peak: every mode gets its FLOP/s and a share of that peak in (0, 1), and the
        // largest speed-up the peak allows over the one-at-a-time run is above the one measured
        assertTrue(csv.get(0).endsWith(",speedup_vs_one,gflop_s,share_of_fma_peak,max_speedup_vs_one,"
                + "steps,forward_ms_per_step,engine_ms_per_step"), csv.get(0));
        for (String row : csv.subList(1, 4)) {
            String[] f = row.split(",");
            double share = Double.parseDouble(f[16]);
            assertTrue(Double.parseDouble(f[15]) > 0 && share > 0 && share < 1, row);
            assertTrue(Double.parseDouble(f[17]) > Double.parseDouble(f[14]), row);
            // the mode's own steps: each of the 6 requests needs its 12-token prompt and 4 more decode steps at least
            // once (5 outputs), in batches of at most 3, so at least 2 x 5 steps; forward and engine time both > 0
            assertTrue(Long.parseLong(f[18]) >= 10, row);
            assertTrue(Double.parseDouble(f[19]) > 0 && Double.parseDouble(f[20]) > 0, row);
        }
        byte[] png = Files.readAllBytes(dir.resolve("out/bench.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
    }

    @Test
    void parallelSequencesGiveAggregatePromptAndDecodeRatesPerCount(@TempDir Path dir) throws Exception {
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        int rc = new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--parallel", "1,3",
                "--prompt-length", "12", "--output-length", "6", "--out", dir.resolve("out").toString());
        assertEquals(0, rc);
        List<String> csv = Files.readAllLines(dir.resolve("out/parallel.csv"));
        assertEquals(List.of("type,sequences,prompt_tokens,output_tokens,prompt_tok_s,decode_tok_s"), csv.subList(0, 1));
        assertEquals(3, csv.size(), String.join("\n", csv));
        for (int i = 1; i < 3; i++) {
            String[] f = csv.get(i).split(",");
            assertEquals(List.of("q8_0", i == 1 ? "1" : "3", "12", "6"), List.of(f[0], f[1], f[2], f[3]));
            double prompt = Double.parseDouble(f[4]);
            double decode = Double.parseDouble(f[5]);
            assertTrue(prompt > 0 && Double.isFinite(prompt) && decode > 0 && Double.isFinite(decode), csv.get(i));
        }
        assertEquals(2, new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--parallel", "0",
                "--out", dir.resolve("out").toString()));
    }

    @Test
    void withSpeculationEachRowSaysHowManyGuessesWereKept(@TempDir Path dir) throws Exception {
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        java.io.StringWriter console = new java.io.StringWriter();
        CommandLine cli = new CommandLine(new BenchCommand());
        cli.setOut(new java.io.PrintWriter(console));
        int rc = cli.execute("--model", model.toString(), "--parallel", "1,2", "--prompt-length", "12", "--output-length", "40",
                "--speculative-tokens", "4", "--out", dir.resolve("out").toString());
        assertEquals(0, rc);
        List<String> csv = Files.readAllLines(dir.resolve("out/parallel.csv"));
        assertEquals("type,sequences,prompt_tokens,output_tokens,prompt_tok_s,decode_tok_s,draft_tokens,accepted_draft_tokens",
                csv.get(0));
        long kept = 0;
        for (int i = 1; i < 3; i++) {
            String[] f = csv.get(i).split(",");
            long drafts = Long.parseLong(f[6]);
            long accepted = Long.parseLong(f[7]);
            assertTrue(accepted >= 0 && accepted <= drafts, csv.get(i));
            kept += accepted;
        }
        // A random model's greedy text soon repeats itself: prompt lookup finds the loop.
        assertTrue(kept > 0, String.join("\n", csv));
        assertEquals(2, new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--parallel", "1",
                "--speculative-tokens", "-1", "--out", dir.resolve("out").toString()));
    }

    @Test
    void sequencesTheKvCacheCannotHoldTogetherAreSaidBeforeTheirRow(@TempDir Path dir) throws Exception {
        // the tiny shape's position takes 2 layers x 2 x 32 floats = 512 bytes: 64 KiB hold 128 positions, 4 sequences of
        // 12 + 6 (two blocks of 16 each) 128, 12 of them 384
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        int rc;
        try {
            System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
            rc = new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--parallel", "4,12", "--kv-cache-memory",
                    "64KiB", "--prompt-length", "12", "--output-length", "6", "--out", dir.resolve("out").toString());
        } finally {
            System.setOut(old);
        }
        String text = out.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        assertTrue(text.contains("note: 12 sequences of 12 + 6 positions need 384 KV positions together; the cache holds 128"), text);
        assertFalse(text.contains("note: 4 sequences"), text);
        assertEquals(3, Files.readAllLines(dir.resolve("out/parallel.csv")).size(), "both rows are still measured");
    }

    @Test
    void aDeviceThatIsNotThereIsAOneLineErrorAndNoCsv(@TempDir Path dir) throws Exception {
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        int rc = new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--device", "tpu",
                "--out", dir.resolve("out").toString());
        assertEquals(2, rc);
        assertFalse(Files.exists(dir.resolve("out/bench.csv")));
    }

    @Test
    void aGpuMemoryFractionOutsideZeroToOneFailsBeforeAnythingRuns(@TempDir Path dir) {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        int rc;
        try {
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            rc = new CommandLine(new BenchCommand()).execute("--random-model", "tiny", "--device", "cuda",
                    "--gpu-memory-fraction", "1.5", "--out", dir.resolve("out").toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(2, rc);
        String message = err.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(message.contains("bench: GPU memory fraction must be in (0, 1], got 1.5"), message);
        assertFalse(Files.exists(dir.resolve("out")), "nothing written before the options are checked");
    }

    @Test
    void aMissingOrCorruptModelIsOneLine(@TempDir Path dir) throws Exception {
        Path notGguf = Files.writeString(dir.resolve("notes.gguf"), "not a model");
        for (Path model : new Path[] {dir.resolve("absent.gguf"), notGguf}) {
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            java.io.PrintStream old = System.err;
            int rc;
            try {
                System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
                rc = new CommandLine(new BenchCommand()).execute("--model", model.toString(), "--requests", "1",
                        "--out", dir.resolve("out").toString());
            } finally {
                System.setErr(old);
            }
            String message = err.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(2, rc, message);
            assertTrue(message.startsWith("bench: ") && message.contains(model.toString()), message);
            assertFalse(message.contains("\tat "), message);
        }
    }

    @Test
    void anHfModelIsDownloadedOnceIntoTheCacheAndBenchmarked(@TempDir Path dir) throws Exception {
        Path model = RandomModelWriter.write(ModelShape.TINY, io.inferstream.runtime.gguf.GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        try (io.inferstream.runtime.hub.LocalHubServer hub = new io.inferstream.runtime.hub.LocalHubServer()) {
            hub.put("/test-owner/tiny/resolve/main/tiny.gguf", Files.readAllBytes(model));
            String[] args = {"--model", "hf://test-owner/tiny/tiny.gguf", "--cache-dir", dir.resolve("cache").toString(),
                    "--hf-endpoint", hub.baseUrl().toString(), "--parallel", "2", "--prompt-length", "8",
                    "--output-length", "3", "--out", dir.resolve("out").toString()};
            assertEquals(0, new CommandLine(new BenchCommand()).execute(args));
            List<String> csv = Files.readAllLines(dir.resolve("out/parallel.csv"));
            assertEquals(2, csv.size(), String.join("\n", csv));
            assertTrue(csv.get(1).startsWith("q8_0,2,8,3,"), csv.get(1));
            int requests = hub.requests().size();
            assertTrue(requests > 0);
            assertEquals(0, new CommandLine(new BenchCommand()).execute(args));
            assertEquals(requests, hub.requests().size(), "the second run reads the cache");
        }
    }
}
