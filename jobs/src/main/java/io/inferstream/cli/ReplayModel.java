package io.inferstream.cli;

import io.inferstream.runtime.hub.ConsoleProgressBar;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.Downloader;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.runtime.hub.ModelResolver;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The model a replay runs: {@code --model} when given; else the default instruct model
 * ({@link DefaultModels#REPLAY}) when it is cached or can be downloaded; else, with a loud warning, the
 * tiny stories260K model from the shared models folder, so that a replay works on a machine without a
 * network.
 *
 * @param path the local GGUF file
 * @param name what results name as their model
 */
public record ReplayModel(Path path, String name) {
    static final String STORIES = "stories260K/stories260K.gguf";

    /** The name, and the file in parentheses when they differ: "hf://… (/home/…/model.gguf)". */
    public String setting() {
        return name.equals(path.toString()) ? name : name + " (" + path + ")";
    }

    /**
     * @param given      the --model value, or null
     * @param repository the repository root (the shared models folder sits beside it), or null
     */
    public static ReplayModel choose(String given, HubOptions hub, Map<String, String> env, Path repository,
            PrintStream err) throws IOException {
        if (given != null) {
            return new ReplayModel(new ModelResolver(hub).resolve(given), given);
        }
        String reason;
        try {
            // one quick attempt: a machine without a network should not wait through retries
            Downloader downloader = Downloader.builder().token(hub.token()).progress(ConsoleProgressBar.forStderr())
                    .maxAttempts(1).connectTimeout(Duration.ofSeconds(5)).build();
            return new ReplayModel(new ModelResolver(hub, downloader).resolve(DefaultModels.REPLAY), DefaultModels.REPLAY);
        } catch (IOException | RuntimeException e) {
            reason = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
        }
        Path stories = storiesModel(env, repository);
        if (stories == null) {
            throw new IOException("no model to replay with: the default model " + DefaultModels.REPLAY
                    + " could not be obtained (" + reason + ") and the fallback " + STORIES + " is neither under"
                    + " $INFERSTREAM_MODELS nor in ../shared/models beside the repository. Download the default with"
                    + " `deploy/inferstream models pull` (needs the network) or give --model PATH.");
        }
        err.println("WARNING: default model " + DefaultModels.REPLAY + " unavailable (" + reason
                + "); replaying with the toy model " + stories + ": outputs will be toy stories."
                + " Get the real default with `deploy/inferstream models pull`.");
        return new ReplayModel(stories, stories.getFileName().toString());
    }

    /** stories260K under $INFERSTREAM_MODELS, else under ../shared/models beside the repository; null if neither. */
    static Path storiesModel(Map<String, String> env, Path repository) {
        String models = env.get("INFERSTREAM_MODELS");
        if (models != null && !models.isBlank()) {
            Path p = Path.of(models).resolve(STORIES);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        if (repository != null) {
            Path p = repository.toAbsolutePath().normalize().resolveSibling("shared").resolve("models").resolve(STORIES);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }
}
