package io.inferstream.runtime.hub;

import java.util.List;

/**
 * A whole Hugging Face Hub repository: {@code hf://owner/repo[@revision]}, a model in transformers' layout
 * (config.json, safetensors weights, tokenizer files) that is fetched file by file into one cache folder.
 *
 * @param owner    user or organisation, e.g. {@code HuggingFaceTB}
 * @param repo     repository name, e.g. {@code SmolLM2-135M-Instruct}
 * @param revision branch, tag or commit hash; {@code main} when the spec names none
 */
public record HfRepo(String owner, String repo, String revision) {

    /** Files a checkpoint folder may have besides its weights; each is fetched when the repository has it. */
    public static final List<String> OPTIONAL_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "tokenizer.model", "chat_template.jinja", "generation_config.json", "special_tokens_map.json");

    public HfRepo {
        new HfUri(owner, repo, "config.json", revision); // the same checks as a file spec's owner, repository and revision
    }

    /** True for {@code hf://owner/repo} and {@code hf://owner/repo@revision} (no path inside the repository). */
    public static boolean isRepoSpec(String spec) {
        if (!HfUri.isHfSpec(spec)) {
            return false;
        }
        String rest = spec.substring(HfUri.SCHEME.length());
        int at = rest.indexOf('@');
        String name = HfUri.stripTrailingSlash(at < 0 ? rest : rest.substring(0, at));
        int slash = name.indexOf('/');
        return slash > 0 && slash < name.length() - 1 && name.indexOf('/', slash + 1) < 0;
    }

    /** Parses {@code hf://owner/repo[@revision]}; the error names the spec and the expected form. */
    public static HfRepo parse(String spec) {
        if (!isRepoSpec(spec)) {
            throw new IllegalArgumentException("Invalid repository spec '" + spec + "': expected hf://owner/repo[@revision]");
        }
        String rest = spec.substring(HfUri.SCHEME.length());
        int at = rest.indexOf('@');
        String name = HfUri.stripTrailingSlash(at < 0 ? rest : rest.substring(0, at));
        String revision = at < 0 ? HfUri.DEFAULT_REVISION : rest.substring(at + 1);
        int slash = name.indexOf('/');
        try {
            return new HfRepo(name.substring(0, slash), name.substring(slash + 1), revision);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid repository spec '" + spec + "': " + e.getMessage(), e);
        }
    }

    /** Checks an {@code hf://} spec of either form (a file or a whole repository); throws naming it when malformed. */
    public static void checkSpec(String spec) {
        if (isRepoSpec(spec)) {
            parse(spec);
        } else {
            HfUri.parse(spec);
        }
    }

    /** The file {@code path} of this repository at this revision. */
    public HfUri file(String path) {
        return new HfUri(owner, repo, path, revision);
    }

    @Override
    public String toString() {
        String base = HfUri.SCHEME + owner + "/" + repo;
        return HfUri.DEFAULT_REVISION.equals(revision) ? base : base + "@" + revision;
    }
}
