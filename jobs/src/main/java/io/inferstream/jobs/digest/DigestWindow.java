package io.inferstream.jobs.digest;

/**
 * One window's (or one part's) messages, ready to summarize: the transcript and the ids it was made of.
 * A Flink POJO, so it travels between operators without Kryo.
 */
public class DigestWindow {
    public String conversationId;
    public long windowStart; // ms, inclusive
    public long windowEnd;   // ms, exclusive
    public int revision;
    public int part;
    public int parts;
    public String[] messageIds = new String[0]; // an array, not a List: Flink serializes it without Kryo
    public String transcript;

    public DigestWindow() {
    }

    /** The id of its summarization request, unique per conversation, window, revision and part. */
    public String requestId() {
        return conversationId + "@" + windowStart + "-" + windowEnd + "/r" + revision + "/p" + part;
    }
}
