package io.inferstream.runtime.hub;

import java.net.URI;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Where models are cached and how the Hub is reached.
 *
 * @param cacheDir cache root; Hub files go to {@code {cacheDir}/hf/{owner}/{repo}/{revision}/{path}}
 * @param endpoint Hub base URL, {@code https://huggingface.co} unless overridden (mirrors, tests)
 * @param token    Hugging Face access token sent as {@code Authorization: Bearer}, or null. Never printed:
 *                 {@link #toString()} masks it and no message or log line contains it.
 * @param offline  never open a network connection; only cached files resolve
 */
public record HubOptions(Path cacheDir, URI endpoint, String token, boolean offline) {

    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    public HubOptions {
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(endpoint, "endpoint");
        if (token != null && token.isBlank()) {
            token = null;
        }
    }

    /**
     * Reads the settings from environment variables: {@code INFERSTREAM_CACHE} (else
     * {@code ~/.cache/inferstream}), {@code INFERSTREAM_HF_ENDPOINT} or {@code HF_ENDPOINT},
     * {@code HF_TOKEN} or {@code HUGGING_FACE_HUB_TOKEN}, {@code INFERSTREAM_OFFLINE=1} or {@code HF_HUB_OFFLINE=1}.
     */
    public static HubOptions fromEnvironment(Map<String, String> env) {
        String cache = firstSet(env, "INFERSTREAM_CACHE");
        Path cacheDir = cache != null
                ? Paths.get(cache)
                : Paths.get(System.getProperty("user.home"), ".cache", "inferstream");
        String endpoint = firstSet(env, "INFERSTREAM_HF_ENDPOINT", "HF_ENDPOINT");
        String token = firstSet(env, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN");
        boolean offline = isTrue(env.get("INFERSTREAM_OFFLINE")) || isTrue(env.get("HF_HUB_OFFLINE"));
        return new HubOptions(cacheDir.toAbsolutePath().normalize(),
                parseEndpoint(endpoint != null ? endpoint : DEFAULT_ENDPOINT), token, offline);
    }

    public static HubOptions fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    public HubOptions withCacheDir(Path dir) {
        return new HubOptions(dir.toAbsolutePath().normalize(), endpoint, token, offline);
    }

    public HubOptions withEndpoint(URI url) {
        return new HubOptions(cacheDir, url, token, offline);
    }

    public HubOptions withToken(String value) {
        return new HubOptions(cacheDir, endpoint, value, offline);
    }

    public HubOptions withOffline(boolean value) {
        return new HubOptions(cacheDir, endpoint, token, value);
    }

    public boolean hasToken() {
        return token != null;
    }

    /** Parses an endpoint URL; only http and https make sense. */
    public static URI parseEndpoint(String url) {
        URI uri;
        try {
            uri = URI.create(HfUri.stripTrailingSlash(url.trim()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid Hub endpoint URL '" + url + "': " + e.getMessage(), e);
        }
        if (!"https".equalsIgnoreCase(uri.getScheme()) && !"http".equalsIgnoreCase(uri.getScheme())
                || uri.getHost() == null) {
            throw new IllegalArgumentException("Invalid Hub endpoint URL '" + url + "': expected http(s)://host[:port][/prefix]");
        }
        return uri;
    }

    @Override
    public String toString() {
        return "HubOptions[cacheDir=" + cacheDir + ", endpoint=" + endpoint + ", token="
                + (token == null ? "none" : "***") + ", offline=" + offline + "]";
    }

    private static String firstSet(Map<String, String> env, String... names) {
        for (String name : names) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) {
                return v.trim();
            }
        }
        return null;
    }

    private static boolean isTrue(String v) {
        if (v == null) {
            return false;
        }
        String s = v.trim().toLowerCase(Locale.ROOT);
        return s.equals("1") || s.equals("true") || s.equals("yes") || s.equals("on");
    }
}
