package io.inferstream.jobs.infer;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines of this JVM (a TaskManager, or the MiniCluster of a local run): one per
 * {@link EngineSpec} — model, device and engine limits — shared by every inference operator instance
 * that asks for it, so weights are mapped once and all instances' requests batch together. Reference
 * counted: the engine is closed when the last instance releases it. An engine that has failed (its GPU lost to a
 * sticky error, its step loop dead) is never handed out again: the next acquire loads a new one, and the failed one
 * is closed when its last lease is released.
 */
public final class SharedEngines {
    private static final Logger LOG = LoggerFactory.getLogger(SharedEngines.class);
    private static final Map<EngineSpec, Entry> ENGINES = new HashMap<>();
    private static Loader loader = LoadedModel::load;

    private SharedEngines() {
    }

    /** How an engine is loaded for a spec: {@link LoadedModel#load}, or in fault-injection tests a wrapper of it. */
    @FunctionalInterface
    public interface Loader {
        LoadedModel load(EngineSpec spec);
    }

    private static final class Entry {
        final EngineSpec spec;
        final LoadedModel model;
        int references;

        Entry(EngineSpec spec, LoadedModel model) {
            this.spec = spec;
            this.model = model;
        }
    }

    /** A reference to a shared engine; close it once (further closes do nothing). */
    public static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean released;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        public LoadedModel model() {
            return entry.model;
        }

        @Override
        public void close() {
            synchronized (SharedEngines.class) {
                if (released) {
                    return;
                }
                released = true;
                release(entry);
            }
        }
    }

    /** The engine for {@code spec}, loading the model when this JVM has no such engine yet, or only a failed one. */
    public static synchronized Lease acquire(EngineSpec spec) {
        Entry entry = ENGINES.get(spec);
        Optional<String> failure = entry == null ? Optional.empty() : entry.model.engine().failure();
        if (failure.isPresent()) {
            // Its leases still close it (release below); it is just no longer the spec's engine.
            LOG.warn("the engine of {} on {} has failed ({}); loading a new one", spec.modelName(), spec.device(), failure.get());
            ENGINES.remove(spec);
            entry = null;
        }
        if (entry == null) {
            long t0 = System.nanoTime();
            entry = new Entry(spec, loader.load(spec));
            ENGINES.put(spec, entry);
            LOG.info("loaded model {} ({}) on {} in {} ms", spec.modelName(), spec.modelPath(), spec.device(),
                    (System.nanoTime() - t0) / 1_000_000);
        }
        entry.references++;
        return new Lease(entry);
    }

    /** How many leases on {@code spec}'s current engine are open (0 when it is not loaded). */
    public static synchronized int references(EngineSpec spec) {
        Entry entry = ENGINES.get(spec);
        return entry == null ? 0 : entry.references;
    }

    /**
     * Loads engines with {@code next} from now on, and returns the loader it replaces (to be put back). For tests
     * that inject faults into a real model; production code never calls it.
     */
    public static synchronized Loader useLoader(Loader next) {
        Loader previous = loader;
        loader = next;
        return previous;
    }

    private static void release(Entry entry) {
        if (--entry.references == 0) {
            ENGINES.remove(entry.spec, entry); // only if it is still the spec's engine
            entry.model.close();
            LOG.info("closed the engine of {} on {}", entry.spec.modelName(), entry.spec.device());
        }
    }
}
