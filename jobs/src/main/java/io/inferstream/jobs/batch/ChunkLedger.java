package io.inferstream.jobs.batch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

/**
 * Records which input files a batch output path has finished, in {@code <output>/_chunks/}: one
 * small JSON marker per input file, written only after the Flink job of that file finished and its
 * FileSink committed. A marked file is skipped on the next run without being read. The marker's
 * name is a hash of the file's path and length, so a file that was rewritten with other content
 * of another size is processed again (its committed ids are still skipped).
 */
final class ChunkLedger {
    static final String DIRECTORY = "_chunks";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path directory;

    ChunkLedger(String outputPath) {
        this.directory = new Path(new Path(outputPath), DIRECTORY);
    }

    boolean isDone(InputFile file) {
        try {
            Path marker = marker(file);
            return marker.getFileSystem().exists(marker);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read chunk ledger " + directory + ": " + e.getMessage(), e);
        }
    }

    void markDone(InputFile file, long records, long results, long deadLetters) {
        ObjectNode node = JSON.createObjectNode()
                .put("file", file.path())
                .put("length", file.length())
                .put("records", records)
                .put("results", results)
                .put("deadLetters", deadLetters);
        Path marker = marker(file);
        try {
            FileSystem fs = marker.getFileSystem();
            // Written under a temporary name and renamed, so a kill never leaves a half marker.
            Path tmp = new Path(directory, "." + marker.getName() + ".tmp");
            try (OutputStream out = fs.create(tmp, FileSystem.WriteMode.OVERWRITE)) {
                out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node).getBytes(StandardCharsets.UTF_8));
            }
            if (!fs.rename(tmp, marker)) {
                throw new IOException("rename " + tmp + " -> " + marker + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write chunk marker " + marker + ": " + e.getMessage(), e);
        }
    }

    private Path marker(InputFile file) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] digest = sha.digest((file.path() + "\n" + file.length()).getBytes(StandardCharsets.UTF_8));
            return new Path(directory, HexFormat.of().formatHex(digest, 0, 16) + ".done");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
