package io.inferstream.jobs.digest;

import io.inferstream.schema.Digest;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.core.fs.Path;
import org.apache.flink.formats.parquet.avro.AvroParquetWriters;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;

/**
 * Digests as Parquet files (Avro schema Digest) under {@code base/conversation=…/date=…/}; part files are
 * finished on checkpoints (exactly-once with the Kafka output), as for results.
 */
public final class DigestParquetSink {
    private DigestParquetSink() {
    }

    public static FileSink<Digest> create(String basePath) {
        return FileSink.forBulkFormat(new Path(basePath), AvroParquetWriters.forSpecificRecord(Digest.class))
                .withBucketAssigner(new ConversationDateBucketAssigner())
                .withRollingPolicy(OnCheckpointRollingPolicy.build())
                .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix("digests").withPartSuffix(".parquet").build())
                .build();
    }
}
