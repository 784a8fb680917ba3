package io.inferstream.jobs.batch;

import io.inferstream.schema.DeadLetter;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.core.fs.Path;
import org.apache.flink.formats.parquet.avro.AvroParquetWriters;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;

/** Dead letters of a batch run as Parquet files (Avro schema DeadLetter) in one side folder. */
final class DeadLetterParquetSink {
    private DeadLetterParquetSink() {
    }

    static FileSink<DeadLetter> create(String directory) {
        return FileSink.forBulkFormat(new Path(directory), AvroParquetWriters.forSpecificRecord(DeadLetter.class))
                .withBucketAssigner(new BasePathBucketAssigner<>())
                .withRollingPolicy(OnCheckpointRollingPolicy.build())
                .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix("dead-letters").withPartSuffix(".parquet").build())
                .build();
    }
}
