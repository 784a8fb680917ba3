package io.inferstream.runtime.hub;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;

import io.inferstream.runtime.safetensors.SafetensorsShards;

/**
 * Turns a {@code --model} value into a local file or folder: a local path (which must exist),
 * {@code hf://owner/repo/path/in/repo[@revision]} (one file), or {@code hf://owner/repo[@revision]} (a repository in
 * transformers' layout, as a folder), taken from the cache when it is there and otherwise
 * downloaded from {@code {endpoint}/{owner}/{repo}/resolve/{revision}/{path}}. In offline mode no
 * connection is ever opened; a missing file fails with the spec and the exact cache path it belongs at.
 *
 * <p>Note that a branch revision ({@code main}) is cached once and not re-checked; pin a commit hash
 * ({@code @<sha>}) for reproducible runs.
 */
public final class ModelResolver {

    private final HubOptions options;
    private final ModelCache cache;
    private final Downloader downloader;

    /** Resolves with a downloader that sends {@code options}' token and draws progress on stderr. */
    public ModelResolver(HubOptions options) {
        this(options, Downloader.builder().token(options.token()).progress(ConsoleProgressBar.forStderr()).build());
    }

    public ModelResolver(HubOptions options, Downloader downloader) {
        this.options = options;
        this.cache = new ModelCache(options.cacheDir());
        this.downloader = downloader;
    }

    /** Settings from the environment ({@link HubOptions#fromEnvironment()}). */
    public static ModelResolver fromEnvironment() {
        return new ModelResolver(HubOptions.fromEnvironment());
    }

    public HubOptions options() {
        return options;
    }

    public ModelCache cache() {
        return cache;
    }

    /** A local path or an {@code hf://} spec → an existing local file (or folder, for a local path). */
    public Path resolve(String spec) throws IOException {
        return resolve(spec, null);
    }

    /**
     * Like {@link #resolve(String)}; a download must also hash to {@code expectedSha256} (64 hex digits) when
     * that is given. A cached file is trusted as it was verified when it was downloaded.
     */
    public Path resolve(String spec, String expectedSha256) throws IOException {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("No model given: expected a local path or hf://owner/repo/path[@revision]");
        }
        if (HfRepo.isRepoSpec(spec)) {
            if (expectedSha256 != null) {
                throw new IllegalArgumentException("--sha256 checks one file; " + spec + " is a whole repository");
            }
            return resolveRepo(HfRepo.parse(spec));
        }
        if (HfUri.isHfSpec(spec)) {
            return resolveHub(HfUri.parse(spec), expectedSha256);
        }
        Path local = localPathOf(spec);
        if (!Files.exists(local)) {
            throw new NoSuchFileException(local.toString(), null,
                    "model file not found (from '" + spec + "'); give an existing local path or hf://owner/repo/path[@revision]");
        }
        return local;
    }

    /**
     * A repository in transformers' layout, file by file into its cache folder: config.json, the tokenizer's files
     * and chat template where the repository has them, then the weights, {@code model.safetensors} or the shards that
     * {@code model.safetensors.index.json} lists. Files already cached are not fetched again, so an interrupted
     * download resumes where it stopped; offline, the folder is used when its config and weights are all cached.
     */
    private Path resolveRepo(HfRepo repo) throws IOException {
        Path folder = cache.folderOf(repo);
        resolveHub(repo.file("config.json"), null);
        for (String name : HfRepo.OPTIONAL_FILES) {
            resolveIfPresent(repo.file(name));
        }
        Path index = resolveIfPresent(repo.file(SafetensorsShards.INDEX));
        if (index == null) {
            resolveHub(repo.file("model.safetensors"), null);
        } else {
            for (String shard : SafetensorsShards.shardFiles(index)) {
                resolveHub(repo.file(shard), null);
            }
        }
        return folder;
    }

    /** The file, or null when the repository has none (404) or offline mode is on and it was never cached. */
    private Path resolveIfPresent(HfUri uri) throws IOException {
        try {
            return resolveHub(uri, null);
        } catch (OfflineModeException e) {
            return null;
        } catch (DownloadException e) {
            if (e.status() == 404) {
                return null;
            }
            throw e;
        }
    }

    /** The download URL of a Hub file at this resolver's endpoint. */
    public URI urlOf(HfUri uri) {
        return URI.create(uri.resolveUrl(options.endpoint().toString()));
    }

    private Path resolveHub(HfUri uri, String expectedSha256) throws IOException {
        Path cached = cache.pathOf(uri);
        if (Files.isRegularFile(cached)) {
            return cached;
        }
        if (options.offline()) {
            Path part = cache.partPathOf(uri);
            String partial = Files.isRegularFile(part)
                    ? " A partial download (" + Files.size(part) + " bytes) is at " + part + "; going online resumes it."
                    : "";
            throw new OfflineModeException("Offline mode (--offline, INFERSTREAM_OFFLINE or HF_HUB_OFFLINE) is on and "
                    + uri + " is not in the cache. Needed file: " + cached + " . Fetch it where there is network"
                    + " (inferstream models pull " + uri + " --cache-dir <dir>) and copy it to that path, or turn offline"
                    + " mode off." + partial, cached);
        }
        URI url = urlOf(uri);
        try {
            return downloader.download(url, cached, expectedSha256);
        } catch (DownloadException e) {
            if (e.status() == 404) {
                throw new DownloadException(uri + ": repository " + uri.owner() + "/" + uri.repo() + " has no file '"
                        + uri.path() + "' at revision '" + uri.revision() + "' (" + e.getMessage()
                        + "). Check the repository name, the file path and the revision.", e.url(), 404, false, e);
            }
            throw new DownloadException(uri + ": " + e.getMessage(), e.url(), e.status(), e.retryable(), e);
        }
    }

    /** A local model path as given ({@code ~/}, {@code file://}, relative to the working folder) → an absolute path. */
    public static Path localPathOf(String spec) {
        String s = spec;
        if (s.equals("~") || s.startsWith("~/")) {
            s = System.getProperty("user.home") + s.substring(1);
        }
        if (s.startsWith("file://")) {
            return Paths.get(URI.create(s)).toAbsolutePath().normalize();
        }
        return Paths.get(s).toAbsolutePath().normalize();
    }
}
