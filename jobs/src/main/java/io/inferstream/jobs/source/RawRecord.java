package io.inferstream.jobs.source;

import io.inferstream.jobs.decode.RecordOrigin;

/**
 * One input record's value bytes with where they came from, before any decoding. A Flink POJO
 * (public fields, no-arg constructor) so that Flink serializes it without Kryo.
 */
public class RawRecord {
    /** The record value, undecoded. */
    public byte[] payload;
    /** Kafka topic, or null for a file. */
    public String topic;
    public int partition;
    public long offset;
    /** File path, or null for Kafka. */
    public String file;
    /** Kafka record timestamp (ms since the epoch), or -1. */
    public long timestamp = -1;

    public RawRecord() {
    }

    public static RawRecord fromKafka(String topic, int partition, long offset, long timestamp, byte[] payload) {
        RawRecord r = new RawRecord();
        r.topic = topic;
        r.partition = partition;
        r.offset = offset;
        r.timestamp = timestamp;
        r.payload = payload;
        return r;
    }

    public static RawRecord fromFile(String file, byte[] payload) {
        RawRecord r = new RawRecord();
        r.file = file;
        r.payload = payload;
        return r;
    }

    public RecordOrigin origin() {
        if (topic != null) {
            return RecordOrigin.kafka(topic, partition, offset);
        }
        return file != null ? RecordOrigin.file(file) : RecordOrigin.unknown();
    }
}
