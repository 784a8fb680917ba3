package io.inferstream.jobs;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.HfRepo;
import io.inferstream.runtime.hub.HfUri;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.hub.ModelResolver;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A job's {@code --model} as its engines get it. Where the engines run in this JVM (a local run) the model is resolved
 * now: an {@code hf://} spec is downloaded with a progress bar, and a model that cannot be had, or whose GGUF header
 * cannot be read, fails before anything starts. Where they run on a cluster's TaskManagers (the job's main in a JobManager, {@code batch --jobmanager}),
 * nothing is downloaded here: each TaskManager resolves the spec into its own cache when its engine loads
 * ({@link io.inferstream.jobs.infer.TaskManagerModelFile}), and a local path need not exist here, only there.
 *
 * @param given  the {@code --model} value as given (what results name as their model)
 * @param model  what the engine spec carries: an absolute local path, or the {@code hf://} spec
 * @param hub    the command line's hub flags, which the TaskManagers apply over their environment
 * @param where  for the start-up listing: where the file is, or where it will be resolved
 */
public record JobModel(String given, String model, HubOverrides hub, String where) {

    /** A malformed {@code hf://} spec fails here (IllegalArgumentException naming it); anything else passes. */
    public static void checkSpec(String given) {
        if (given != null && HfUri.isHfSpec(given)) {
            HfRepo.checkSpec(given);
        }
    }

    /** {@code given} for a job whose engines run here ({@code enginesHere}) or on a cluster's TaskManagers. */
    public static JobModel of(String given, HubCliOptions hubFlags, boolean enginesHere) throws IOException {
        HubOverrides hub = hubFlags == null ? HubOverrides.NONE : hubFlags.overrides();
        if (enginesHere) {
            ModelResolver resolver = hubFlags == null ? ModelResolver.fromEnvironment() : hubFlags.resolver();
            Path file = resolver.resolve(given).toAbsolutePath();
            try (Checkpoint header = Checkpoint.open(file)) { // a corrupt file fails here, not in a task's restart loop
                return new JobModel(given, file.toString(), hub, file.toString());
            }
        }
        if (HfUri.isHfSpec(given)) {
            checkSpec(given); // a malformed spec fails here, not on every TaskManager
            String cache = hub.cacheDir() != null ? hub.cacheDir()
                    : "its $INFERSTREAM_CACHE, else ~/.cache/inferstream";
            return new JobModel(given, given, hub, "resolved on each TaskManager into its cache ("
                    + cache + (hub.offline() ? "; offline: it must be there already" : "") + ")");
        }
        Path file = ModelResolver.localPathOf(given);
        return new JobModel(given, file.toString(), hub, file + " on every TaskManager"
                + (Files.exists(file) ? "" : " (not on this machine)"));
    }

    /**
     * {@link #of}, or empty after {@code err} got why the model cannot be had, in one line naming {@code command}: no
     * such file, offline and not cached, not on the Hub, a malformed spec, not a GGUF file. (The caller then ends with exit code 2.)
     */
    public static Optional<JobModel> orSay(String command, String given, HubCliOptions hubFlags, boolean enginesHere,
            PrintWriter err) {
        try {
            return Optional.of(of(given, hubFlags, enginesHere));
        } catch (IOException | UncheckedIOException | IllegalArgumentException | GgufFormatException e) {
            err.println(command + ": " + e.getMessage());
            err.flush();
            return Optional.empty();
        }
    }

    /** The start-up listing's {@code model} line. */
    public String setting() {
        return given.equals(where) ? given : given + " (" + where + ")";
    }
}
