package io.inferstream.runtime.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import io.inferstream.runtime.hub.CachedFile;
import io.inferstream.runtime.hub.ConsoleProgressBar;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.Downloader;
import io.inferstream.runtime.hub.HfRepo;
import io.inferstream.runtime.hub.HfUri;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.runtime.hub.ModelCache;
import io.inferstream.runtime.hub.ModelResolver;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code inferstream models pull|path|list}: download a Hub model into the cache, print where a model
 * resolves to, list the cache. Paths go to stdout (for scripts), progress and errors to stderr.
 */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "Download, locate and list cached models (hf://owner/repo/path[@revision] or local paths).",
        subcommands = {ModelsCommand.Pull.class, ModelsCommand.PathOf.class, ModelsCommand.ListCached.class})
public final class ModelsCommand implements Callable<Integer> {

    private final Map<String, String> env;

    @Spec
    CommandSpec spec;

    public ModelsCommand() {
        this(System.getenv());
    }

    /** @param env the environment to read INFERSTREAM_CACHE, HF_TOKEN, … from (tests pass their own) */
    public ModelsCommand(Map<String, String> env) {
        this.env = Map.copyOf(env);
    }

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: pull, path or list");
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Download a Hub model into the cache (with progress) and print its local path.")
    static final class Pull implements Callable<Integer> {
        @ParentCommand
        ModelsCommand parent;
        @Spec
        CommandSpec spec;
        @Mixin
        HubCliOptions hub;

        @Parameters(paramLabel = "SPEC", arity = "0..1", defaultValue = DefaultModels.REPLAY,
                description = "hf://owner/repo/path/in/repo[@revision], or hf://owner/repo[@revision] for a repository of safetensors (default: ${DEFAULT-VALUE})")
        String model;

        @Option(names = "--sha256", paramLabel = "HEX",
                description = "Expected sha256 of the file (otherwise the Hub's ETag is used when it is one).")
        String sha256;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            return run(spec, "pull", () -> {
                if (!HfUri.isHfSpec(model)) {
                    throw new IllegalArgumentException("pull takes an hf://owner/repo/path[@revision] or hf://owner/repo[@revision]"
                            + " spec, got '" + model + "'");
                }
                HubOptions options = hub.toOptions(parent.env);
                if (options.offline()) {
                    ModelCache cache = new ModelCache(options.cacheDir());
                    String uri = HfRepo.isRepoSpec(model) ? HfRepo.parse(model).toString() : HfUri.parse(model).toString();
                    Path cached = HfRepo.isRepoSpec(model) ? cache.folderOf(HfRepo.parse(model)) : cache.pathOf(HfUri.parse(model));
                    throw new IllegalArgumentException("pull needs the network but offline mode is on (--offline,"
                            + " INFERSTREAM_OFFLINE or HF_HUB_OFFLINE); " + uri + " belongs at " + cached);
                }
                ConsoleProgressBar bar = new ConsoleProgressBar(err, System.console() != null, System::nanoTime);
                Downloader downloader = Downloader.builder().token(options.token()).progress(bar).build();
                return new ModelResolver(options, downloader).resolve(model, sha256);
            });
        }
    }

    @Command(name = "path", mixinStandardHelpOptions = true,
            description = "Print the local file a model spec resolves to (downloading it unless offline).")
    static final class PathOf implements Callable<Integer> {
        @ParentCommand
        ModelsCommand parent;
        @Spec
        CommandSpec spec;
        @Mixin
        HubCliOptions hub;

        @Parameters(paramLabel = "SPEC", arity = "0..1", defaultValue = DefaultModels.REPLAY,
                description = "A local path or hf://owner/repo/path/in/repo[@revision] (default: ${DEFAULT-VALUE}).")
        String model;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            return run(spec, "path", () -> {
                HubOptions options = hub.toOptions(parent.env);
                ConsoleProgressBar bar = new ConsoleProgressBar(err, System.console() != null, System::nanoTime);
                Downloader downloader = Downloader.builder().token(options.token()).progress(bar).build();
                return new ModelResolver(options, downloader).resolve(model);
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the cached Hub models with their sizes (and interrupted downloads).")
    static final class ListCached implements Callable<Integer> {
        @ParentCommand
        ModelsCommand parent;
        @Spec
        CommandSpec spec;
        @Mixin
        HubCliOptions hub;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            ModelCache cache = new ModelCache(hub.toOptions(parent.env).cacheDir());
            List<CachedFile> files;
            try {
                files = cache.list();
            } catch (IOException e) {
                err.println("inferstream models list: cannot read the cache " + cache.root() + ": " + e.getMessage());
                return 1;
            }
            if (files.isEmpty()) {
                out.println("No models cached in " + cache.root());
                return 0;
            }
            for (CachedFile f : files) {
                out.printf(Locale.ROOT, "%12s  %s%s  %s%n", humanSize(f.size()), f.spec(),
                        f.complete() ? "" : "  (partial download)", f.path());
            }
            out.flush();
            return 0;
        }
    }

    /** What a subcommand does once its options are parsed: produce a path, or fail with an exception. */
    @FunctionalInterface
    private interface PathAction {
        Path run() throws IOException;
    }

    /** Prints the path on stdout, or the error message (never a stack trace) on stderr with exit code 1. */
    private static int run(CommandSpec spec, String name, PathAction action) {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            out.println(action.run());
            out.flush();
            return 0;
        } catch (IOException | IllegalArgumentException e) {
            err.println("inferstream models " + name + ": " + e.getMessage());
            err.flush();
            return 1;
        }
    }

    static String humanSize(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        double v = bytes;
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
