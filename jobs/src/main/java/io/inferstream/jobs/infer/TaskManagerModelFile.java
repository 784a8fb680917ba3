package io.inferstream.jobs.infer;

import io.inferstream.runtime.hub.ConsoleProgressBar;
import io.inferstream.runtime.hub.Downloader;
import io.inferstream.runtime.hub.HfUri;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.runtime.hub.ModelResolver;
import io.inferstream.runtime.hub.ProgressListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where an engine's model file is on this TaskManager. A local path must be there (every TaskManager needs the file at
 * the same path). An {@code hf://} spec is resolved here, where the engine loads it: taken from this TaskManager's
 * cache, else downloaded into it, with the job's {@code --cache-dir}, {@code --hf-endpoint} and {@code --offline} over
 * this process's environment (its {@code HF_TOKEN} too). So a job submitted to a cluster needs the model neither in
 * the JobManager nor on a volume its TaskManagers share. The download's progress goes to this TaskManager's log, a
 * line every ten seconds, and to {@link ModelDownloads} (the operators' gauge); TaskManagers that share a cache folder
 * download it once (the cache's file lock).
 */
public final class TaskManagerModelFile {
    private static final Logger LOG = LoggerFactory.getLogger(TaskManagerModelFile.class);

    private TaskManagerModelFile() {
    }

    /** The model file of {@code spec} here; the error names the model, this host and what is missing. */
    public static Path locate(EngineSpec spec) {
        return locate(spec, System.getenv());
    }

    static Path locate(EngineSpec spec, Map<String, String> environment) {
        return locate(spec, environment, options -> new ModelResolver(options, Downloader.builder()
                .token(options.token()).progress(both(new ConsoleProgressBar(new PrintWriter(new LogLines()), false,
                        System::nanoTime), ModelDownloads.listener(spec.model()))).build()));
    }

    static Path locate(EngineSpec spec, Map<String, String> environment, Function<HubOptions, ModelResolver> resolvers) {
        if (!HfUri.isHfSpec(spec.model())) {
            Path path = Path.of(spec.model());
            if (!Files.exists(path)) { // a GGUF file or a Hugging Face folder
                throw new IllegalArgumentException("model file " + path + " does not exist on TaskManager " + host()
                        + " (model '" + spec.modelName() + "'): every TaskManager needs the file at the same path");
            }
            return path;
        }
        HubOptions options = spec.hub().applyTo(HubOptions.fromEnvironment(environment));
        try {
            Path file = resolvers.apply(options).resolve(spec.model());
            LOG.info("model {}: {} in the cache {} of this TaskManager", spec.modelName(), file, options.cacheDir());
            return file;
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException("model '" + spec.model() + "' could not be resolved on TaskManager " + host()
                    + " (cache " + options.cacheDir() + "): " + e.getMessage(), e);
        }
    }

    /** Progress told to {@code log} (this TaskManager's log) and to {@code gauge} (the operator's gauge). */
    private static ProgressListener both(ProgressListener log, ProgressListener gauge) {
        return new ProgressListener() {
            @Override
            public void start(String label, long done, long total) {
                log.start(label, done, total);
                gauge.start(label, done, total);
            }

            @Override
            public void update(long done, long total, double bytesPerSecond) {
                log.update(done, total, bytesPerSecond);
                gauge.update(done, total, bytesPerSecond);
            }

            @Override
            public void finish(long done, boolean success) {
                log.finish(done, success);
                gauge.finish(done, success);
            }
        };
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "(this host)";
        }
    }

    /** The progress bar's plain lines, each an INFO line of this class's log. */
    private static final class LogLines extends Writer {
        private final StringBuilder line = new StringBuilder();

        @Override
        public synchronized void write(char[] chars, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                if (chars[i] == '\n') {
                    flushLine();
                } else if (chars[i] != '\r') {
                    line.append(chars[i]);
                }
            }
        }

        private void flushLine() {
            if (!line.toString().isBlank()) {
                LOG.info("{}", line.toString().strip());
            }
            line.setLength(0);
        }

        @Override
        public synchronized void flush() {
        }

        @Override
        public synchronized void close() {
            flushLine();
        }
    }
}
