package io.inferstream.jobs.sink;

import io.inferstream.schema.InferenceResult;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.functions.sink.filesystem.BucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.SimpleVersionedStringSerializer;

/**
 * Puts each result in the Hive-style directory {@code task=<TASK>/date=<yyyy-MM-dd>}, the date
 * being the UTC day of {@code completed_at}, so queries can prune by task and day.
 */
public final class TaskDateBucketAssigner implements BucketAssigner<InferenceResult, String> {
    private static final long serialVersionUID = 1L;
    private static final DateTimeFormatter DAY = DateTimeFormatter.ISO_LOCAL_DATE.withZone(ZoneOffset.UTC);

    @Override
    public String getBucketId(InferenceResult result, Context context) {
        return bucketOf(result);
    }

    public static String bucketOf(InferenceResult result) {
        return "task=" + result.getTask().name() + "/date=" + DAY.format(result.getCompletedAt());
    }

    @Override
    public SimpleVersionedSerializer<String> getSerializer() {
        return SimpleVersionedStringSerializer.INSTANCE;
    }
}
