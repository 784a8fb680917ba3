package io.inferstream.jobs.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.schema.FinishReason;
import io.inferstream.schema.InferenceResult;
import io.inferstream.schema.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.io.LocalOutputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Only finished result files count as committed: in-progress part files and side folders do not. */
class CommittedResultsTest {
    @TempDir
    Path out;

    private void writeResults(Path file, String... ids) throws Exception {
        Files.createDirectories(file.getParent());
        org.apache.avro.specific.SpecificData data = new org.apache.avro.specific.SpecificData();
        data.addLogicalTypeConversion(new org.apache.avro.data.TimeConversions.TimestampMillisConversion());
        try (ParquetWriter<InferenceResult> w = AvroParquetWriter.<InferenceResult>builder(new LocalOutputFile(file))
                .withConf(new PlainParquetConfiguration()).withSchema(InferenceResult.getClassSchema())
                .withDataModel(data).build()) {
            for (String id : ids) {
                w.write(InferenceResult.newBuilder().setId(id).setTask(Task.SUMMARIZE).setOutput("out " + id)
                        .setLabel(null).setLabelProbabilities(java.util.Map.of()).setPromptTokens(3).setCompletionTokens(2)
                        .setFinishReason(FinishReason.LENGTH).setError(null).setModel("m").setQueueMs(0L).setComputeMs(1L)
                        .setBatchSize(1).setMetadata(java.util.Map.of()).setCompletedAt(java.time.Instant.EPOCH).build());
            }
        }
    }

    @Test
    void finishedPartFilesAreCommittedInProgressOnesAreNot() throws Exception {
        writeResults(out.resolve("task=SUMMARIZE/date=2026-11-28/results-a-0-0.parquet"), "r1", "r2");
        writeResults(out.resolve("task=CLASSIFY/date=2026-11-28/results-b-0-0.parquet"), "r3");
        writeResults(out.resolve("task=SUMMARIZE/date=2026-11-28/.results-c-0-1.parquet.inprogress.0f1e"), "r4");
        Files.writeString(out.resolve("task=SUMMARIZE/date=2026-11-28/.results-d-0-2.parquet.inprogress.77"), "truncated");
        writeResults(out.resolve("_dead_letters/x.parquet"), "r5");
        assertEquals(Set.of("r1", "r2", "r3"), CommittedResults.ids(out.toString()));
    }

    @Test
    void anEmptyOrMissingOutputHasNothingCommitted() {
        assertEquals(Set.of(), CommittedResults.ids(out.resolve("absent").toString()));
    }

    @Test
    void aBrokenFinishedFileIsAnErrorNamingIt() throws Exception {
        Path broken = out.resolve("task=GENERATE/date=2026-11-28/results-e-0-0.parquet");
        Files.createDirectories(broken.getParent());
        Files.writeString(broken, "not parquet");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CommittedResults.ids(out.toString()));
        assertTrue(e.getMessage().contains("results-e-0-0.parquet"), e.getMessage());
    }

    @Test
    void progressLineShowsFilesRequestsRateAndEta() {
        BatchProgress p = new BatchProgress(2, 4, 512, 1000, 500, 3520, java.time.Duration.ofSeconds(100));
        assertEquals("files 2/4, requests 512/1000 (51.2%), 35.2 tokens/s, ETA 0:01:37", p.line());
    }
}
