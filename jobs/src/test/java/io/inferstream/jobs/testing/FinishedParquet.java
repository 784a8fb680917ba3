package io.inferstream.jobs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.sink.TaskDateBucketAssigner;
import io.inferstream.schema.InferenceResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificData;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.io.LocalInputFile;

/** The results in the finished Parquet part files under a FileSink's base folder. */
public final class FinishedParquet {
    private FinishedParquet() {
    }

    /**
     * Every result in the finished part files under {@code base}; each file must sit in its task=…/date=…
     * bucket. In-progress and pending files (hidden, starting with '.') are skipped: only finished files
     * count for exactly-once.
     */
    public static List<InferenceResult> read(Path base) throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(base)) {
            files = walk.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().startsWith("."))
                    .collect(Collectors.toList());
        }
        List<InferenceResult> results = new ArrayList<>();
        for (Path file : files) {
            String name = file.getFileName().toString();
            assertTrue(name.startsWith("results-") && name.endsWith(".parquet"), "stray file: " + file);
            String bucket = base.relativize(file.getParent()).toString().replace('\\', '/');
            try (ParquetReader<InferenceResult> reader = AvroParquetReader.<InferenceResult>builder(new LocalInputFile(file))
                    .withDataModel(SpecificData.getForClass(InferenceResult.class)).build()) {
                for (InferenceResult r = reader.read(); r != null; r = reader.read()) {
                    assertEquals(TaskDateBucketAssigner.bucketOf(r), bucket, "bucket of " + r.getId());
                    results.add(r);
                }
            }
        }
        return results;
    }
}
