package io.inferstream.cli;

import io.inferstream.runtime.hub.HfUri;
import io.inferstream.runtime.hub.ModelResolver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A submitted job's relative paths made absolute here. The job's main runs in the JobManager, whose working folder is
 * not the one {@code submit} was run in, so {@code --model models/m.gguf} would name a file under the JobManager's
 * folder. Like {@code batch --jobmanager} with its inputs, {@code submit} takes a relative {@code --model},
 * {@code --output} or {@code --cache-dir} from where it runs (the path every TaskManager must then have) and says so.
 * {@code hf://} specs, URIs ({@code s3://…}, {@code file://…}) and {@code --output none} are left as they are.
 */
final class ClusterPaths {
    private static final Set<String> PATH_OPTIONS = Set.of("--model", "--output", "--cache-dir");

    private ClusterPaths() {
    }

    /** {@code jobArgs} with those options' relative paths absolute; {@code said} gets a line for each one changed. */
    static List<String> absolute(List<String> jobArgs, Consumer<String> said) {
        List<String> args = new ArrayList<>(jobArgs);
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            int eq = arg.indexOf('=');
            String name = eq > 0 ? arg.substring(0, eq) : arg;
            if (!PATH_OPTIONS.contains(name) || (eq < 0 && i + 1 >= args.size())) {
                continue;
            }
            int at = eq > 0 ? i : i + 1;
            String value = eq > 0 ? arg.substring(eq + 1) : args.get(at);
            String absolute = absolute(value);
            if (!absolute.equals(value)) {
                args.set(at, eq > 0 ? name + "=" + absolute : absolute);
                said.accept(name + " " + value + " is taken from here: " + absolute);
            }
            i = at;
        }
        return args;
    }

    private static String absolute(String value) {
        if (value.isEmpty() || value.equalsIgnoreCase("none") || HfUri.isHfSpec(value) || value.contains("://")
                || Path.of(value).isAbsolute()) {
            return value;
        }
        return ModelResolver.localPathOf(value).toString(); // also ~/… and a path relative to this folder
    }
}
