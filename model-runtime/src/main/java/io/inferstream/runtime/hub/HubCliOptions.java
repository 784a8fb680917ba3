package io.inferstream.runtime.hub;

import java.nio.file.Path;
import java.util.Map;

import picocli.CommandLine.Option;

/**
 * The model-resolution options every command with a {@code --model} shares, as a picocli mixin:
 * {@code @Mixin HubCliOptions hub; ... Path model = hub.resolver().resolve(modelSpec);}.
 * The token comes from the environment only ({@code HF_TOKEN}): a command-line value would show in {@code ps}.
 */
public final class HubCliOptions {

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Model cache folder (default: $INFERSTREAM_CACHE, else ~/.cache/inferstream).")
    Path cacheDir;

    @Option(names = "--offline",
            description = "Never touch the network: models must be cached (also INFERSTREAM_OFFLINE=1 or HF_HUB_OFFLINE=1).")
    boolean offline;

    @Option(names = "--hf-endpoint", paramLabel = "URL",
            description = "Hugging Face Hub base URL (default: $INFERSTREAM_HF_ENDPOINT, $HF_ENDPOINT, else https://huggingface.co).")
    String endpoint;

    /** The options given on the command line over those of {@code env}. */
    public HubOptions toOptions(Map<String, String> env) {
        return overrides().applyTo(HubOptions.fromEnvironment(env));
    }

    /** The flags given, for a process that applies them over its own environment (a job's TaskManagers). */
    public HubOverrides overrides() {
        return new HubOverrides(cacheDir == null ? null : cacheDir.toString(), endpoint, offline);
    }

    public HubOptions toOptions() {
        return toOptions(System.getenv());
    }

    /** A resolver with these options and a progress bar on stderr. */
    public ModelResolver resolver() {
        return new ModelResolver(toOptions());
    }

}
