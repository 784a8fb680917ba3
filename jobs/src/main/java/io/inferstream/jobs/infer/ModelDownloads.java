package io.inferstream.jobs.infer;

import io.inferstream.runtime.hub.ProgressListener;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code hf://} model downloads going on in this JVM (a TaskManager), by model spec. An operator waiting for its
 * engine shows its model's in the {@link EngineMetricGauges#MODEL_DOWNLOAD} gauge, which {@code submit} reads through
 * the REST API: a download takes minutes, and it happens on a TaskManager the person who submitted may not see.
 */
public final class ModelDownloads {
    private static final double MIB = 1024.0 * 1024.0;
    private static final Map<String, Progress> NOW = new ConcurrentHashMap<>();

    private record Progress(long done, long total, double bytesPerSecond) {
    }

    private ModelDownloads() {
    }

    /** Records the progress of {@code model}'s download until it finishes (either way). */
    static ProgressListener listener(String model) {
        return new ProgressListener() {
            @Override
            public void start(String label, long done, long total) {
                NOW.put(model, new Progress(done, total, 0));
            }

            @Override
            public void update(long done, long total, double bytesPerSecond) {
                NOW.put(model, new Progress(done, total, bytesPerSecond));
            }

            @Override
            public void finish(long done, boolean success) {
                NOW.remove(model);
            }
        };
    }

    /** e.g. "0.5 of 1.1 MiB (44%), 3.2 MiB/s"; empty when no download of {@code model} is going on here. */
    public static String status(String model) {
        Progress p = NOW.get(model);
        if (p == null) {
            return "";
        }
        String size = p.total() > 0
                ? String.format(Locale.ROOT, "%.1f of %.1f MiB (%d%%)", p.done() / MIB, p.total() / MIB, p.done() * 100 / p.total())
                : String.format(Locale.ROOT, "%.1f MiB", p.done() / MIB);
        return p.bytesPerSecond() > 0 ? size + String.format(Locale.ROOT, ", %.1f MiB/s", p.bytesPerSecond() / MIB) : size;
    }
}
