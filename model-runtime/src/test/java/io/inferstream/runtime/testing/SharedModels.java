package io.inferstream.runtime.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.Assumptions;

/**
 * The one place tests find the real model files of {@code ../shared/models} (or {@code $INFERSTREAM_MODELS}).
 *
 * <p>When a file is missing: under CI ({@code CI=true}) the test fails, because CI always has the
 * shared data and a missing file there is a real defect; elsewhere (a user's clone has no
 * {@code ../shared}) the test is skipped with a printed reason saying what to set.
 */
public final class SharedModels {

    private SharedModels() {
    }

    /** The models folder: {@code $INFERSTREAM_MODELS}, else {@code shared/models} beside the repository. */
    public static Path root() {
        String env = System.getenv("INFERSTREAM_MODELS");
        if (env != null && !env.isBlank()) {
            return Paths.get(env).toAbsolutePath().normalize();
        }
        return repositoryRoot().resolveSibling("shared").resolve("models").toAbsolutePath().normalize();
    }

    /** The repository root: surefire passes it in; otherwise walk up from the working directory. */
    public static Path repositoryRoot() {
        // surefire's value is Maven's top directory, which is the module's own when Maven runs inside a module
        String env = System.getenv("INFERSTREAM_REPO_ROOT");
        Path dir = env != null && !env.isBlank() ? Paths.get(env).toAbsolutePath().normalize() : Paths.get("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("model-runtime")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        return dir;
    }

    /**
     * Resolves a file below the models folder, e.g. {@code require("stories260K/stories260K.gguf")}.
     * Fails under CI and skips elsewhere when it is missing.
     */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        if (Files.exists(p)) {
            return p;
        }
        String reason = "shared model file " + p + " is missing; set INFERSTREAM_MODELS to a copy of shared/models";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError(reason + " (CI=true: the shared data must be present)");
        }
        System.out.println("SKIPPED: " + reason);
        Assumptions.abort(reason);
        return p; // unreachable
    }
}
