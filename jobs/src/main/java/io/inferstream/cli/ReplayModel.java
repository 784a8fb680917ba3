package io.inferstream.cli;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.ConsoleProgressBar;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.Downloader;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.runtime.hub.ModelResolver;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The model a replay runs: {@code --model} when given; else the default instruct model
 * ({@link DefaultModels#REPLAY}) when it is cached or can be downloaded; else, with a loud warning, the
 * tiny stories260K model from the shared models folder, so that a replay works on a machine without a
 * network. Whichever it is, its headers are read before the replay starts a broker or a job, so that a truncated
 * or corrupt file is one line and exit code 2, not a task failing after the broker and the job have started.
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
            return checked(new ModelResolver(hub).resolve(given), given);
        }
        String reason;
        try {
            // one quick attempt: a machine without a network should not wait through retries
            Downloader downloader = Downloader.builder().token(hub.token()).progress(ConsoleProgressBar.forStderr())
                    .maxAttempts(1).connectTimeout(Duration.ofSeconds(5)).build();
            Path cached = new ModelResolver(hub, downloader).resolve(DefaultModels.REPLAY);
            return checked(cached, DefaultModels.REPLAY, " Fetch it again with `deploy/inferstream models pull`"
                    + " after deleting it.");
        } catch (UnusableModelException e) { // there, but unreadable: not a reason to replay with another model
            throw e;
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
        return checked(stories, stories.getFileName().toString());
    }

    private static ReplayModel checked(Path path, String name) throws UnusableModelException {
        return checked(path, name, "");
    }

    /** The model at {@code path} once its headers (GGUF, or config.json and safetensors) have been read. */
    private static ReplayModel checked(Path path, String name, String advice) throws UnusableModelException {
        try (Checkpoint header = Checkpoint.open(path)) {
            return new ReplayModel(path, name);
        } catch (GgufFormatException | UncheckedIOException | IllegalArgumentException e) {
            throw new UnusableModelException(e.getMessage() + advice, e);
        }
    }

    /** A model file that exists but whose headers cannot be read (truncated, corrupt, not a model). */
    static final class UnusableModelException extends IOException {
        UnusableModelException(String message, Throwable cause) {
            super(message, cause);
        }
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
