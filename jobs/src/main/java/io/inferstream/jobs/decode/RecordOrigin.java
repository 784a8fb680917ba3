package io.inferstream.jobs.decode;

import java.io.Serializable;
import java.util.Objects;

/** Where an input record came from: a Kafka topic/partition/offset, or a file. */
public final class RecordOrigin implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String topic;
    private final Integer partition;
    private final Long offset;
    private final String file;

    private RecordOrigin(String topic, Integer partition, Long offset, String file) {
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.file = file;
    }

    public static RecordOrigin kafka(String topic, int partition, long offset) {
        return new RecordOrigin(Objects.requireNonNull(topic, "topic"), partition, offset, null);
    }

    public static RecordOrigin file(String path) {
        return new RecordOrigin(null, null, null, Objects.requireNonNull(path, "path"));
    }

    /** For records handed over directly (command line, tests). */
    public static RecordOrigin unknown() {
        return new RecordOrigin(null, null, null, null);
    }

    public String topic() {
        return topic;
    }

    public Integer partition() {
        return partition;
    }

    public Long offset() {
        return offset;
    }

    public String file() {
        return file;
    }

    @Override
    public String toString() {
        if (topic != null) {
            return topic + "-" + partition + "@" + offset;
        }
        return file != null ? file : "unknown origin";
    }
}
