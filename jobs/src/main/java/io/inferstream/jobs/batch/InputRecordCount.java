package io.inferstream.jobs.batch;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.apache.flink.core.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;

/**
 * How many records an input file holds, for the progress line's total: the row count in a Parquet
 * footer (no data read), the non-blank lines of a JSON-lines file (one pass over its bytes).
 */
final class InputRecordCount {
    private InputRecordCount() {
    }

    static long of(InputFile file) {
        Path path = new Path(file.path());
        try {
            if (file.format() == InputFormat.PARQUET) {
                try (ParquetFileReader reader = ParquetFileReader.open(new FlinkParquetInputFile(path))) {
                    return reader.getRecordCount();
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("request file '" + file.path() + "' is not a readable Parquet file: "
                            + e.getMessage(), e);
                }
            }
            return nonBlankLines(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read request file '" + file.path() + "': " + e.getMessage(), e);
        }
    }

    private static long nonBlankLines(Path path) throws IOException {
        long lines = 0;
        boolean content = false;
        try (InputStream in = new BufferedInputStream(path.getFileSystem().open(path), 1 << 16)) {
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    lines += content ? 1 : 0;
                    content = false;
                } else if (b != ' ' && b != '\t' && b != '\r') {
                    content = true;
                }
            }
        }
        return lines + (content ? 1 : 0);
    }
}
