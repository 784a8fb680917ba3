package io.inferstream.jobs.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputFilesTest {
    @TempDir
    Path dir;

    private List<String> names(List<InputFile> files) {
        return files.stream().map(f -> dir.relativize(Path.of(java.net.URI.create(f.path()).getPath())).toString())
                .collect(Collectors.toList());
    }

    private void touch(String name) throws Exception {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "x");
    }

    @Test
    void directoryIsReadRecursivelySkippingHiddenAndForeignFiles() throws Exception {
        touch("b.jsonl");
        touch("a/part-1.parquet");
        touch("a/.part-2.parquet.inprogress.123");
        touch("_SUCCESS");
        touch("_chunks/x.parquet");
        touch("notes.txt");
        List<InputFile> files = InputFiles.resolve(List.of(dir.toString()));
        assertEquals(List.of("a/part-1.parquet", "b.jsonl"), names(files));
        assertEquals(InputFormat.PARQUET, files.get(0).format());
        assertEquals(InputFormat.JSONL, files.get(1).format());
    }

    @Test
    void globMatchesBelowItsDirectory() throws Exception {
        touch("2026-11-27/r.parquet");
        touch("2026-11-28/r.parquet");
        touch("2026-11-28/r.jsonl");
        touch("2026-12-01/r.parquet");
        assertEquals(List.of("2026-11-27/r.parquet", "2026-11-28/r.parquet"),
                names(InputFiles.resolve(List.of(dir + "/2026-11-*/*.parquet"))));
    }

    @Test
    void missingOrEmptyInputsAreNamedInTheError() throws Exception {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> InputFiles.resolve(List.of(dir + "/nope")));
        assertTrue(missing.getMessage().contains(dir + "/nope"), missing.getMessage());
        touch("only.txt");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> InputFiles.resolve(List.of(dir.toString())));
        assertTrue(none.getMessage().startsWith("no request files"), none.getMessage());
        IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class,
                () -> InputFiles.resolve(List.of(dir.resolve("only.txt").toString())));
        assertTrue(foreign.getMessage().contains("neither Parquet"), foreign.getMessage());
    }

    @Test
    void aFileNamedTwiceIsRefused() throws Exception {
        touch("r.jsonl");
        assertThrows(IllegalArgumentException.class,
                () -> InputFiles.resolve(List.of(dir.toString(), dir.resolve("r.jsonl").toString())));
    }
}
