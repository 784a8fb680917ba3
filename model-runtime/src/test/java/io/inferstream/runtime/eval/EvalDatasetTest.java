package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalDatasetTest {

    @TempDir
    Path dir;

    private Path write(String... lines) throws Exception {
        Path file = dir.resolve("set.jsonl");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }

    @Test
    void readsExamplesWithTheirTaskFields() throws Exception {
        Path file = write(
                "{\"id\":\"c1\",\"task\":\"CLASSIFY\",\"text\":\"Great!\",\"labels\":[\"positive\",\"negative\"],\"expected_label\":\"positive\",\"metadata\":{\"channel\":\"chat\"}}",
                "",
                "{\"id\":\"t1\",\"task\":\"TRANSLATE\",\"text\":\"Hello\",\"source_language\":\"en\",\"target_language\":\"zh\",\"max_new_tokens\":32,\"reference\":\"你好\"}");
        List<EvalExample> examples = EvalDataset.read(file);
        assertEquals(2, examples.size());
        EvalExample c = examples.get(0);
        assertEquals(List.of("positive", "negative"), c.labels());
        assertEquals("positive", c.expectedLabel());
        assertEquals(Map.of("channel", "chat"), c.metadata());
        assertNull(c.reference());
        EvalExample t = examples.get(1);
        assertEquals("zh", t.targetLanguage());
        assertEquals(32, t.maxNewTokens());
        assertEquals("你好", t.reference());
    }

    @Test
    void rejectsExamplesTheirMetricCannotScoreNamingFileAndLine() throws Exception {
        Path file = write(
                "{\"id\":\"c1\",\"task\":\"CLASSIFY\",\"text\":\"ok\",\"labels\":[\"a\",\"b\"],\"expected_label\":\"a\"}",
                "{\"id\":\"c2\",\"task\":\"CLASSIFY\",\"text\":\"ok\",\"labels\":[\"a\",\"b\"],\"expected_label\":\"z\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(file));
        assertEquals(file + ":2: CLASSIFY example 'c2' has expected_label 'z', expected one of [a, b]", e.getMessage());

        Path noTarget = write("{\"id\":\"t\",\"task\":\"TRANSLATE\",\"text\":\"x\",\"reference\":\"y\"}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(noTarget))
                .getMessage().endsWith(":1: TRANSLATE example 't' has no 'target_language'"));

        Path duplicate = write(
                "{\"id\":\"g\",\"task\":\"GENERATE\",\"text\":\"x\"}",
                "{\"id\":\"g\",\"task\":\"GENERATE\",\"text\":\"y\"}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(duplicate))
                .getMessage().endsWith(":2: duplicate id 'g'"));

        Path lowerTask = write("{\"id\":\"s\",\"task\":\"summarise\",\"text\":\"x\",\"reference\":\"y\"}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(lowerTask))
                .getMessage().contains("field 'task' is 'summarise', expected one of"));

        Path broken = write("{\"id\":\"s\",");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(broken))
                .getMessage().startsWith(broken + ":1: invalid JSON"));
    }

    @Test
    void parquetWithoutItsReaderOnTheClassPathSaysWhereTheReaderIs() throws Exception {
        // The engine module has no Parquet reader (the jobs module supplies one, ParquetEvalSetFormatTest).
        Path file = dir.resolve("set.parquet");
        Files.write(file, new byte[] {'P', 'A', 'R', '1'});
        assertEquals(file + ": no reader for Parquet evaluation sets on this class path; the inferstream command (jobs module) reads them",
                assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(file)).getMessage());
    }
}
