package io.inferstream.jobs.infer;

import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines of this JVM (a TaskManager, or the MiniCluster of a local run): one per
 * {@link EngineSpec} — model, device and engine limits — shared by every inference operator instance
 * that asks for it, so weights are mapped once and all instances' requests batch together. Reference
 * counted: the engine is closed when the last instance releases it.
 */
public final class SharedEngines {
    private static final Logger LOG = LoggerFactory.getLogger(SharedEngines.class);
    private static final Map<EngineSpec, Entry> ENGINES = new HashMap<>();

    private SharedEngines() {
    }

    private static final class Entry {
        final LoadedModel model;
        int references;

        Entry(LoadedModel model) {
            this.model = model;
        }
    }

    /** A reference to a shared engine; close it once (further closes do nothing). */
    public static final class Lease implements AutoCloseable {
        private final EngineSpec spec;
        private final LoadedModel model;
        private boolean released;

        private Lease(EngineSpec spec, LoadedModel model) {
            this.spec = spec;
            this.model = model;
        }

        public LoadedModel model() {
            return model;
        }

        @Override
        public void close() {
            synchronized (SharedEngines.class) {
                if (released) {
                    return;
                }
                released = true;
                release(spec);
            }
        }
    }

    /** The engine for {@code spec}, loading the model when this JVM has no such engine yet. */
    public static synchronized Lease acquire(EngineSpec spec) {
        Entry entry = ENGINES.get(spec);
        if (entry == null) {
            long t0 = System.nanoTime();
            entry = new Entry(LoadedModel.load(spec));
            ENGINES.put(spec, entry);
            LOG.info("loaded model {} ({}) on {} in {} ms", spec.modelName(), spec.modelPath(), spec.device(),
                    (System.nanoTime() - t0) / 1_000_000);
        }
        entry.references++;
        return new Lease(spec, entry.model);
    }

    /** How many leases on {@code spec}'s engine are open (0 when it is not loaded). */
    public static synchronized int references(EngineSpec spec) {
        Entry entry = ENGINES.get(spec);
        return entry == null ? 0 : entry.references;
    }

    private static void release(EngineSpec spec) {
        Entry entry = ENGINES.get(spec);
        if (entry == null) {
            return;
        }
        if (--entry.references == 0) {
            ENGINES.remove(spec);
            entry.model.close();
            LOG.info("closed the engine of {} on {}", spec.modelName(), spec.device());
        }
    }
}
