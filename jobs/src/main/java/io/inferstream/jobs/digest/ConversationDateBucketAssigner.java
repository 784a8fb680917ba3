package io.inferstream.jobs.digest;

import io.inferstream.schema.Digest;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.functions.sink.filesystem.BucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.SimpleVersionedStringSerializer;

/**
 * Puts each digest in the Hive-style directory {@code conversation=<id>/date=<yyyy-MM-dd>}, the date being the
 * UTC day of the window start. The conversation id is URL-encoded so that a '/' in it cannot make a folder.
 */
public final class ConversationDateBucketAssigner implements BucketAssigner<Digest, String> {
    private static final long serialVersionUID = 1L;
    private static final DateTimeFormatter DAY = DateTimeFormatter.ISO_LOCAL_DATE.withZone(ZoneOffset.UTC);

    @Override
    public String getBucketId(Digest digest, Context context) {
        return bucketOf(digest);
    }

    public static String bucketOf(Digest digest) {
        return "conversation=" + URLEncoder.encode(digest.getConversationId(), StandardCharsets.UTF_8)
                + "/date=" + DAY.format(digest.getWindowStart());
    }

    @Override
    public SimpleVersionedSerializer<String> getSerializer() {
        return SimpleVersionedStringSerializer.INSTANCE;
    }
}
