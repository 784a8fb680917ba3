package io.inferstream.runtime.hub;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A file in a Hugging Face Hub repository: {@code hf://owner/repo/path/in/repo[@revision]}.
 *
 * @param owner    user or organisation, e.g. {@code Qwen}
 * @param repo     repository name, e.g. {@code Qwen2.5-0.5B-Instruct-GGUF}
 * @param path     file path inside the repository, {@code /}-separated, e.g. {@code q8/model.gguf}
 * @param revision branch, tag or commit hash; {@code main} when the spec names none
 */
public record HfUri(String owner, String repo, String path, String revision) {

    public static final String SCHEME = "hf://";
    public static final String DEFAULT_REVISION = "main";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*");

    public HfUri {
        requireName("owner", owner);
        requireName("repository", repo);
        requirePath(path);
        if (revision == null || !REVISION.matcher(revision).matches() || revision.contains("..")) {
            throw new IllegalArgumentException("Invalid revision '" + revision + "' for " + owner + "/" + repo
                    + ": expected a branch, tag or commit hash (letters, digits, '.', '_', '-', '/')");
        }
    }

    public static boolean isHfSpec(String spec) {
        return spec != null && spec.startsWith(SCHEME);
    }

    /** Parses {@code hf://owner/repo/path/in/repo[@revision]}; the error names the spec and the expected form. */
    public static HfUri parse(String spec) {
        if (!isHfSpec(spec)) {
            throw new IllegalArgumentException("Not an hf:// model spec: '" + spec + "'");
        }
        String rest = spec.substring(SCHEME.length());
        int ownerEnd = rest.indexOf('/');
        int repoEnd = ownerEnd < 0 ? -1 : rest.indexOf('/', ownerEnd + 1);
        if (ownerEnd <= 0 || repoEnd <= ownerEnd + 1 || repoEnd == rest.length() - 1) {
            throw new IllegalArgumentException("Invalid model spec '" + spec
                    + "': expected hf://owner/repo/path/in/repo[@revision] (a file, e.g. " + DefaultModels.REPLAY
                    + ") or hf://owner/repo[@revision] (a repository of safetensors)");
        }
        String owner = rest.substring(0, ownerEnd);
        String repo = rest.substring(ownerEnd + 1, repoEnd);
        if (repo.contains("@")) {
            throw new IllegalArgumentException("Invalid model spec '" + spec
                    + "': the revision goes at the end, as hf://owner/repo/path/in/repo@revision");
        }
        String path = rest.substring(repoEnd + 1);
        String revision = DEFAULT_REVISION;
        int at = path.lastIndexOf('@');
        if (at >= 0) {
            revision = path.substring(at + 1);
            path = path.substring(0, at);
        }
        try {
            return new HfUri(owner, repo, path, revision);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid model spec '" + spec + "': " + e.getMessage(), e);
        }
    }

    /** The download URL: {@code {endpoint}/{owner}/{repo}/resolve/{revision}/{path}}, each part URL-encoded. */
    public String resolveUrl(String endpoint) {
        StringBuilder url = new StringBuilder(stripTrailingSlash(endpoint));
        url.append('/').append(owner).append('/').append(repo).append("/resolve/").append(encode(revision));
        for (String segment : path.split("/")) {
            url.append('/').append(encode(segment));
        }
        return url.toString();
    }

    /** The path segments inside the repository. */
    public List<String> pathSegments() {
        return List.of(path.split("/"));
    }

    /** The revision as one safe folder name (a revision such as {@code refs/pr/1} has slashes). */
    public String revisionFolder() {
        return encode(revision);
    }

    @Override
    public String toString() {
        String base = SCHEME + owner + "/" + repo + "/" + path;
        return DEFAULT_REVISION.equals(revision) ? base : base + "@" + revision;
    }

    static String stripTrailingSlash(String s) {
        String t = s;
        while (t.endsWith("/")) {
            t = t.substring(0, t.length() - 1);
        }
        return t;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static void requireName(String what, String value) {
        if (value == null || !NAME.matcher(value).matches() || value.contains("..")) {
            throw new IllegalArgumentException("Invalid " + what + " name '" + value
                    + "': expected letters, digits, '.', '_' or '-'");
        }
    }

    private static void requirePath(String path) {
        if (path == null || path.isEmpty()) {
            throw new IllegalArgumentException("Missing file path inside the repository");
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || segment.indexOf('\\') >= 0
                    || segment.chars().anyMatch(Character::isISOControl)) {
                throw new IllegalArgumentException("Invalid file path '" + path
                        + "' inside the repository: expected names separated by single '/', without '.' or '..'");
            }
        }
    }
}
