package io.inferstream.jobs.batch;

import io.inferstream.jobs.testing.SampleRequests;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.Task;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.generic.GenericData;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.io.LocalOutputFile;

/**
 * 1,000 input records in 3 Parquet files and 1 JSON-lines file, some malformed, and what a
 * correct run must make of them (valid ids by task, malformed count), known by construction.
 */
final class BatchInputFixture {
    static final int PER_PARQUET_FILE = 250;
    static final int JSONL_LINES = 250;

    final Path dir;
    final Set<String> validIds = new LinkedHashSet<>();
    final Map<Task, Integer> validByTask = new EnumMap<>(Task.class);
    final Set<String> malformedWithId = new LinkedHashSet<>();
    int malformed;

    BatchInputFixture(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        for (int f = 0; f < 3; f++) {
            writeParquet(dir.resolve("requests-" + f + ".parquet"), f);
        }
        writeJsonl(dir.resolve("requests-3.jsonl"));
    }

    int records() {
        return 3 * PER_PARQUET_FILE + JSONL_LINES;
    }

    private void writeParquet(Path file, int f) throws IOException {
        List<InferenceRequest> rows = new ArrayList<>();
        for (int i = 0; i < PER_PARQUET_FILE; i++) {
            String id = "p" + f + "-" + i;
            Task task = SampleRequests.taskFor(i + f);
            InferenceRequest.Builder b = SampleRequests.valid(id, task);
            if (i % 25 == 7) {
                b.setText("   "); // invalid: blank text
                malformedWithId.add(id);
                malformed++;
            } else if (i % 25 == 19 && task == Task.CLASSIFY) {
                b.setLabels(List.of()); // invalid: CLASSIFY without labels
                malformedWithId.add(id);
                malformed++;
            } else {
                valid(id, task);
            }
            rows.add(b.build());
        }
        try (ParquetWriter<InferenceRequest> writer = AvroParquetWriter
                .<InferenceRequest>builder(new LocalOutputFile(file))
                .withConf(new PlainParquetConfiguration())
                .withSchema(InferenceRequest.getClassSchema())
                .withDataModel(specificData())
                .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
                .build()) {
            for (InferenceRequest r : rows) {
                writer.write(r);
            }
        }
    }

    private static GenericData specificData() {
        org.apache.avro.specific.SpecificData data = new org.apache.avro.specific.SpecificData();
        data.addLogicalTypeConversion(new org.apache.avro.data.TimeConversions.TimestampMillisConversion());
        return data;
    }

    private void writeJsonl(Path file) throws IOException {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < JSONL_LINES; i++) {
            String id = "j-" + i;
            Task task = SampleRequests.taskFor(i);
            if (i % 20 == 3) {
                out.append("{\"id\": \"").append(id).append("\", \"task\": \"GENERATE\", \"text\": \"cut off\n");
                malformed++; // broken JSON
                continue;
            }
            if (i % 20 == 11) {
                out.append("{\"id\": \"").append(id).append("\", \"task\": \"DANCE\", \"text\": \"x\", \"created_at\": 1}\n");
                malformed++; // unknown task
                continue;
            }
            if (i == 100) {
                out.append("\n   \n"); // blank lines are skipped, not dead-lettered
            }
            String labels = task == Task.CLASSIFY ? ", \"labels\": [\"a\", \"b\"]" : "";
            String target = task == Task.TRANSLATE ? ", \"target_language\": \"de\"" : "";
            out.append("{\"id\": \"").append(id).append("\", \"task\": \"").append(task.name())
                    .append("\", \"text\": \"line ").append(i).append(" text\"").append(labels).append(target)
                    .append(", \"created_at\": 1764324930123}\n");
            valid(id, task);
        }
        Files.writeString(file, out.toString(), StandardCharsets.UTF_8);
    }

    private void valid(String id, Task task) {
        validIds.add(id);
        validByTask.merge(task, 1, Integer::sum);
    }
}
