package io.inferstream.jobs.batch;

import java.io.Serializable;
import java.util.Objects;

/** One request file of a batch run: its path (a Flink path URI), format and size in bytes. */
public final class InputFile implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String path;
    private final InputFormat format;
    private final long length;

    public InputFile(String path, InputFormat format, long length) {
        this.path = Objects.requireNonNull(path, "path");
        this.format = Objects.requireNonNull(format, "format");
        this.length = length;
    }

    public String path() {
        return path;
    }

    public InputFormat format() {
        return format;
    }

    public long length() {
        return length;
    }

    @Override
    public String toString() {
        return path + " (" + format + ", " + length + " bytes)";
    }
}
