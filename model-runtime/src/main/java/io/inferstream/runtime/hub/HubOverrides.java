package io.inferstream.runtime.hub;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * The model-resolution flags a command line gave ({@code --cache-dir}, {@code --hf-endpoint}, {@code --offline}), kept
 * apart from the environment they override. A job ships them to its TaskManagers, which apply them over their own
 * environment ({@link HubOptions#fromEnvironment()}): an {@code hf://} model is resolved where the engine loads it.
 * The token is not here: it comes from each process's environment ({@code HF_TOKEN}), never from a job graph.
 *
 * @param cacheDir absolute cache folder, or null for the environment's
 * @param endpoint Hub base URL, or null for the environment's
 * @param offline  never open a connection (the environment can also turn this on)
 */
public record HubOverrides(String cacheDir, String endpoint, boolean offline) implements Serializable {

    /** No flag given: the environment decides everything. */
    public static final HubOverrides NONE = new HubOverrides(null, null, false);

    public HubOverrides {
        if (cacheDir != null) {
            cacheDir = Path.of(cacheDir).toAbsolutePath().normalize().toString();
        }
        if (endpoint != null) {
            endpoint = HubOptions.parseEndpoint(endpoint).toString(); // validates: http(s) only
        }
    }

    /** {@code base} (a process's environment) with these flags over it. */
    public HubOptions applyTo(HubOptions base) {
        HubOptions o = base;
        if (cacheDir != null) {
            o = o.withCacheDir(Path.of(cacheDir));
        }
        if (endpoint != null) {
            o = o.withEndpoint(HubOptions.parseEndpoint(endpoint));
        }
        return offline ? o.withOffline(true) : o;
    }

    /** The flags as they would be given again, e.g. {@code --cache-dir /models --offline}; empty when none. */
    public String flags() {
        StringBuilder s = new StringBuilder();
        if (cacheDir != null) {
            s.append(" --cache-dir ").append(cacheDir);
        }
        if (endpoint != null) {
            s.append(" --hf-endpoint ").append(endpoint);
        }
        if (offline) {
            s.append(" --offline");
        }
        return s.toString().strip();
    }
}
