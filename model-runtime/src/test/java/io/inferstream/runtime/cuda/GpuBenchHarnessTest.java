package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU bench's harness on the CPU (what deploy/gpu/check.sh runs where there is no GPU): a tiny random model, two
 * concurrencies, and a table whose every row has the header's columns. The GPU rows have the same shape, so a column
 * added to the header but not to the rows (or the other way round) fails here rather than in a device run.
 */
class GpuBenchHarnessTest {

    @TempDir
    Path dir;

    @Test
    void cpuRunWritesATableWhoseRowsHaveTheHeadersColumns() throws Exception {
        Path out = dir.resolve("bench.md");
        GpuBench.main(new String[] {"--random-llama-1b", dir.resolve("tiny.gguf").toString(), "--random-shape",
            "64,128,1,4,2,300", "--device", "cpu", "--concurrency", "1,3", "--prompt", "8", "--steps", "2", "--out",
            out.toString()});
        List<String> lines = Files.readAllLines(out);
        int header = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("| concurrency |")) {
                header = i;
            }
        }
        assertTrue(header >= 0, "no table header in\n" + String.join("\n", lines));
        long columns = cells(lines.get(header));
        assertEquals(columns, cells(lines.get(header + 1)), "the rule line");
        for (int c = 0; c < 2; c++) {
            String row = lines.get(header + 2 + c);
            assertTrue(row.startsWith("| " + (c == 0 ? 1 : 3) + " |"), row);
            assertEquals(columns, cells(row), "row " + row);
        }
    }

    private static long cells(String line) {
        return line.chars().filter(ch -> ch == '|').count() - 1;
    }
}
