package io.inferstream.jobs.batch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

/**
 * Finds the request files of a batch run. An input is a file, a directory (read recursively) or a
 * glob in its last path elements ({@code s3://lake/requests/2026-11-*}{@code /*.parquet}). Paths go
 * through Flink's {@link FileSystem}, so {@code s3://} and {@code hdfs://} work where the matching
 * file-system plugin is installed. Hidden files ({@code .} or {@code _} prefix) are ignored, as
 * every Hadoop-style writer uses them for temporary and marker files. The list is sorted by path,
 * so every run of the same input sees the same files in the same order.
 */
public final class InputFiles {
    private InputFiles() {
    }

    public static List<InputFile> resolve(List<String> inputs) {
        List<InputFile> files = new ArrayList<>();
        for (String input : inputs) {
            List<InputFile> found = resolve(input);
            if (found.isEmpty()) {
                throw new IllegalArgumentException("no request files (*.parquet, *.jsonl, *.ndjson, *.json) found at '"
                        + input + "'");
            }
            files.addAll(found);
        }
        files.sort(Comparator.comparing(InputFile::path));
        for (int i = 1; i < files.size(); i++) {
            if (files.get(i).path().equals(files.get(i - 1).path())) {
                throw new IllegalArgumentException("request file '" + files.get(i).path() + "' is named by two inputs");
            }
        }
        return files;
    }

    static List<InputFile> resolve(String input) {
        try {
            int glob = firstGlobChar(input);
            if (glob < 0) {
                Path path = new Path(input);
                FileSystem fs = path.getFileSystem();
                if (!fs.exists(path)) {
                    throw new IllegalArgumentException("input '" + input + "' does not exist");
                }
                List<InputFile> out = new ArrayList<>();
                collect(fs, fs.getFileStatus(path), null, out, true);
                return out;
            }
            // The directory before the first glob character is listed recursively; the glob is
            // matched against the full path of each file below it.
            int slash = input.lastIndexOf('/', glob);
            if (slash < 0) {
                throw new IllegalArgumentException("glob '" + input + "' needs a directory before its first wildcard");
            }
            Path root = new Path(input.substring(0, slash + 1));
            FileSystem fs = root.getFileSystem();
            if (!fs.exists(root)) {
                throw new IllegalArgumentException("directory '" + root + "' of glob '" + input + "' does not exist");
            }
            String rootPrefix = root.toUri().getPath();
            if (!rootPrefix.endsWith("/")) {
                rootPrefix = rootPrefix + "/";
            }
            PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + input.substring(slash + 1));
            List<InputFile> out = new ArrayList<>();
            collect(fs, fs.getFileStatus(root), new GlobFilter(rootPrefix, matcher), out, true);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list input '" + input + "': " + e.getMessage(), e);
        }
    }

    private static void collect(FileSystem fs, FileStatus status, GlobFilter glob, List<InputFile> out, boolean top)
            throws IOException {
        String name = status.getPath().getName();
        if (!top && (name.startsWith(".") || name.startsWith("_"))) {
            return;
        }
        if (status.isDir()) {
            for (FileStatus child : fs.listStatus(status.getPath())) {
                collect(fs, child, glob, out, false);
            }
            return;
        }
        if (glob != null && !glob.matches(status.getPath())) {
            return;
        }
        InputFormat format = InputFormat.of(name);
        if (format == null) {
            if (top) {
                throw new IllegalArgumentException("input file '" + status.getPath()
                        + "' is neither Parquet (*.parquet) nor JSON lines (*.jsonl, *.ndjson, *.json)");
            }
            return;
        }
        out.add(new InputFile(status.getPath().toString(), format, status.getLen()));
    }

    private static int firstGlobChar(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '*' || c == '?' || c == '[' || c == '{') {
                return i;
            }
        }
        return -1;
    }

    private static final class GlobFilter {
        private final String rootPrefix;
        private final PathMatcher matcher;

        GlobFilter(String rootPrefix, PathMatcher matcher) {
            this.rootPrefix = rootPrefix;
            this.matcher = matcher;
        }

        boolean matches(Path file) {
            String p = file.toUri().getPath();
            if (!p.startsWith(rootPrefix)) {
                return false;
            }
            return matcher.matches(java.nio.file.Path.of(p.substring(rootPrefix.length())));
        }
    }
}
