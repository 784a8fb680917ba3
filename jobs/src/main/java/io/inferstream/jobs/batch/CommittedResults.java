package io.inferstream.jobs.batch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashSet;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericRecord;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.avro.AvroReadSupport;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetReader;

/**
 * The request ids whose results are already committed under a batch output path: the ids in every
 * finished result part file ({@code *.parquet} below {@code task=…/date=…}). Files that Flink's
 * FileSink has not committed yet are hidden ({@code .part-….inprogress.…}) and are not read, so a
 * result counts only once its file is final. Only the {@code id} column is read.
 */
public final class CommittedResults {
    /** Projection of InferenceResult onto its id. */
    private static final Schema ID_ONLY = SchemaBuilder.record("InferenceResult").namespace("io.inferstream.schema")
            .fields().requiredString("id").endRecord();

    private CommittedResults() {
    }

    public static Set<String> ids(String outputPath) {
        Set<String> ids = new HashSet<>();
        Path root = new Path(outputPath);
        try {
            FileSystem fs = root.getFileSystem();
            if (fs.exists(root)) {
                collect(fs, root, ids, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot scan committed results under '" + outputPath + "': " + e.getMessage(), e);
        }
        return ids;
    }

    private static void collect(FileSystem fs, Path dir, Set<String> ids, boolean top) throws IOException {
        for (FileStatus status : fs.listStatus(dir)) {
            String name = status.getPath().getName();
            if (name.startsWith(".") || name.startsWith("_")) {
                continue; // in-progress part files, dead letters, chunk ledger
            }
            if (status.isDir()) {
                collect(fs, status.getPath(), ids, false);
            } else if (!top && name.endsWith(".parquet")) {
                readIds(status.getPath(), ids);
            }
        }
    }

    private static void readIds(Path file, Set<String> ids) throws IOException {
        PlainParquetConfiguration conf = new PlainParquetConfiguration();
        conf.set(AvroReadSupport.AVRO_REQUESTED_PROJECTION, ID_ONLY.toString());
        try (ParquetReader<GenericRecord> reader = AvroParquetReader.<GenericRecord>builder(new FlinkParquetInputFile(file), conf)
                .withDataModel(org.apache.avro.generic.GenericData.get())
                .build()) {
            for (GenericRecord r = reader.read(); r != null; r = reader.read()) {
                ids.add(r.get("id").toString());
            }
        } catch (RuntimeException e) {
            throw new IllegalStateException("committed result file '" + file + "' cannot be read as InferenceResult Parquet: "
                    + e.getMessage(), e);
        }
    }
}
