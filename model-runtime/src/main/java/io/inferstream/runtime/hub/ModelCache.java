package io.inferstream.runtime.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The cache folder's layout: a Hub file lives at {@code {root}/hf/{owner}/{repo}/{revision}/{path}};
 * a download in progress beside it as {@code <file>.part} (with a {@code <file>.lock}). Only verified files
 * are renamed to their final name, so a file at its final path is complete.
 */
public final class ModelCache {

    static final String PART = ".part";
    static final String LOCK = ".lock";

    private final Path root;

    public ModelCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** Where the file of {@code uri} lies once downloaded. */
    public Path pathOf(HfUri uri) {
        Path p = root.resolve("hf").resolve(uri.owner()).resolve(uri.repo()).resolve(uri.revisionFolder());
        for (String segment : uri.pathSegments()) {
            p = p.resolve(segment);
        }
        return p;
    }

    /** Where the files of a whole repository lie once downloaded: the folder a checkpoint is opened from. */
    public Path folderOf(HfRepo repo) {
        return pathOf(repo.file("config.json")).getParent();
    }

    /** The partial download of {@code uri}, if one is in progress or was interrupted. */
    public Path partPathOf(HfUri uri) {
        return Downloader.sibling(pathOf(uri), PART);
    }

    /** Every cached Hub file and partial download, sorted by spec. */
    public List<CachedFile> list() throws IOException {
        Path hf = root.resolve("hf");
        List<CachedFile> files = new ArrayList<>();
        if (!Files.isDirectory(hf)) {
            return files;
        }
        try (Stream<Path> walk = Files.walk(hf)) {
            for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
                CachedFile f = describe(hf, p);
                if (f != null) {
                    files.add(f);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        files.sort(Comparator.comparing((CachedFile f) -> f.spec().toString()).thenComparing(CachedFile::complete));
        return files;
    }

    /** The cache entry a file below {@code hf/} stands for, or null for lock files and stray files. */
    private static CachedFile describe(Path hf, Path file) throws IOException {
        Path rel = hf.relativize(file);
        String name = file.getFileName().toString();
        if (rel.getNameCount() < 4 || name.endsWith(LOCK)) {
            return null;
        }
        boolean complete = !name.endsWith(PART);
        StringBuilder path = new StringBuilder();
        for (int i = 3; i < rel.getNameCount(); i++) {
            String segment = rel.getName(i).toString();
            if (i == rel.getNameCount() - 1 && !complete) {
                segment = segment.substring(0, segment.length() - PART.length());
            }
            path.append(i > 3 ? "/" : "").append(segment);
        }
        String revision = URLDecoder.decode(rel.getName(2).toString(), StandardCharsets.UTF_8);
        try {
            HfUri uri = new HfUri(rel.getName(0).toString(), rel.getName(1).toString(), path.toString(), revision);
            return new CachedFile(uri, file, Files.size(file), complete);
        } catch (IllegalArgumentException e) {
            return null; // not something this cache wrote
        }
    }
}
