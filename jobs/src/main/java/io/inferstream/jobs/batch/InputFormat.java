package io.inferstream.jobs.batch;

import java.util.Locale;

/** The request file formats the batch job reads, told apart by file name. */
public enum InputFormat {
    /** Parquet written with the Avro schema InferenceRequest. */
    PARQUET,
    /** One JSON request per line (the same JSON as on Kafka); blank lines are skipped. */
    JSONL;

    /** The format of {@code fileName}, or null when the batch job does not read such files. */
    public static InputFormat of(String fileName) {
        String name = fileName.toLowerCase(Locale.ROOT);
        if (name.endsWith(".parquet")) {
            return PARQUET;
        }
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) {
            return JSONL;
        }
        return null;
    }
}
