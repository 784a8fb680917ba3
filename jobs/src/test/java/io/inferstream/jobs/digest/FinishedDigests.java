package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.schema.Digest;
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

/** The digests in the finished Parquet part files under the digest sink's base folder. */
final class FinishedDigests {
    private FinishedDigests() {
    }

    /** Every digest in finished part files (hidden in-progress/pending files skipped); each in its conversation=…/date=… bucket. */
    static List<Digest> read(Path base) throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(base)) {
            files = walk.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .collect(Collectors.toList());
        }
        List<Digest> digests = new ArrayList<>();
        for (Path file : files) {
            String name = file.getFileName().toString();
            assertTrue(name.startsWith("digests-") && name.endsWith(".parquet"), "stray file: " + file);
            String bucket = base.relativize(file.getParent()).toString().replace('\\', '/');
            try (ParquetReader<Digest> reader = AvroParquetReader.<Digest>builder(new LocalInputFile(file))
                    .withDataModel(SpecificData.getForClass(Digest.class)).build()) {
                for (Digest d = reader.read(); d != null; d = reader.read()) {
                    assertEquals(ConversationDateBucketAssigner.bucketOf(d), bucket, "bucket of " + d.getConversationId());
                    digests.add(d);
                }
            }
        }
        return digests;
    }
}
