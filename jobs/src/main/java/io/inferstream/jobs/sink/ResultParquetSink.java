package io.inferstream.jobs.sink;

import io.inferstream.schema.InferenceResult;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.core.fs.Path;
import org.apache.flink.formats.parquet.avro.AvroParquetWriters;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;

/**
 * Results as Parquet files (Avro schema InferenceResult) under {@code base/task=…/date=…/}.
 * Bulk formats can only roll on checkpoints: part files become visible (lose their in-progress
 * name) when the checkpoint after them completes, or at the end of a bounded job.
 */
public final class ResultParquetSink {
    private ResultParquetSink() {
    }

    public static FileSink<InferenceResult> create(String basePath) {
        return FileSink.forBulkFormat(new Path(basePath), AvroParquetWriters.forSpecificRecord(InferenceResult.class))
                .withBucketAssigner(new TaskDateBucketAssigner())
                .withRollingPolicy(OnCheckpointRollingPolicy.build())
                .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix("results").withPartSuffix(".parquet").build())
                .build();
    }
}
