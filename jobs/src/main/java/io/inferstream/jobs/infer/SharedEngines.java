package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.backend.DevicePlacement;
import io.inferstream.runtime.cuda.CudaDevice;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines of this JVM (a TaskManager, or the MiniCluster of a local run): one per
 * {@link EngineSpec} — model, device and engine limits — and GPU, shared by every inference operator instance
 * that asks for it, so weights are mapped once and all instances' requests batch together. A spec whose device names
 * no GPU ({@code cuda}, {@code auto}) on a TaskManager with several gets an engine on each GPU its instances are
 * spread over ({@link GpuSpread}). Reference
 * counted: the engine is closed when the last instance releases it. An engine that has failed (its GPU lost to a
 * sticky error, its step loop dead) is never handed out again: the next acquire loads a new one, and the failed one
 * is closed when its last lease is released.
 */
public final class SharedEngines {
    private static final Logger LOG = LoggerFactory.getLogger(SharedEngines.class);
    private static final Map<Key, Entry> ENGINES = new HashMap<>();
    private static Loader loader = LoadedModel::load;
    private static Supplier<CudaDevice.Probe> probe = CudaDevice::probe;

    /** An engine's identity: its spec and, for a spec that names no GPU, the one it was placed on (-1: none). */
    private record Key(EngineSpec spec, int gpu) {
    }

    private SharedEngines() {
    }

    /**
     * How an engine is loaded for a spec on the GPU {@code placement} picks where its device names none:
     * {@link LoadedModel#load}, or in fault-injection tests a wrapper of it.
     */
    @FunctionalInterface
    public interface Loader {
        LoadedModel load(EngineSpec spec, DevicePlacement placement);
    }

    private static final class Entry {
        final Key key;
        final LoadedModel model;
        int references;

        Entry(Key key, LoadedModel model) {
            this.key = key;
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

    /** The engine for {@code spec} where the TaskManager has no GPUs from Flink: {@code acquire(spec, List.of())}. */
    public static Lease acquire(EngineSpec spec) {
        return acquire(spec, List.of());
    }

    /**
     * The engine for {@code spec}, loading the model when this JVM has no such engine yet, or only a failed one. A spec
     * whose device names no GPU takes the one {@link GpuSpread} picks among {@code taskManagerGpus} (the indices
     * Flink's GPU resource gave this TaskManager; empty: every GPU CUDA shows).
     */
    public static Lease acquire(EngineSpec spec, List<Integer> taskManagerGpus) {
        // An hf:// model not yet in this TaskManager's cache is downloaded here, outside the lock: the other engines'
        // leases (another job's cancel closing its own) must not wait minutes for it. Then the load finds it cached.
        TaskManagerModelFile.locate(spec);
        return acquireLocated(spec, taskManagerGpus);
    }

    private static synchronized Lease acquireLocated(EngineSpec spec, List<Integer> taskManagerGpus) {
        Key key = new Key(spec, -1);
        DevicePlacement placement = DevicePlacement.FIRST;
        CudaDevice.Probe p = DeviceOption.parse(spec.device()).placed() ? probe.get() : null;
        if (p != null && p.available()) {
            DevicePlacement.Placed placed = new GpuSpread(taskManagerGpus, gpu -> references(spec, gpu),
                    CudaDevice::openInThisJvm).place(p.deviceCount());
            key = new Key(spec, placed.ordinal());
            placement = count -> placed;
        }
        Entry entry = ENGINES.get(key);
        Optional<String> failure = entry == null ? Optional.empty() : entry.model.engine().failure();
        if (failure.isPresent()) {
            // Its leases still close it (release below); it is just no longer the spec's engine.
            LOG.warn("the engine of {} on {} has failed ({}); loading a new one", spec.modelName(), where(key), failure.get());
            ENGINES.remove(key);
            entry = null;
        }
        if (entry == null) {
            long t0 = System.nanoTime();
            entry = new Entry(key, loader.load(spec, placement));
            ENGINES.put(key, entry);
            LOG.info("loaded model {} ({}) on {} in {} ms", spec.modelName(), spec.model(), where(key),
                    (System.nanoTime() - t0) / 1_000_000);
        }
        entry.references++;
        return new Lease(entry);
    }

    /** How many leases on {@code spec}'s current engines are open, on every GPU it was placed on (0: none loaded). */
    public static synchronized int references(EngineSpec spec) {
        return ENGINES.values().stream().filter(e -> e.key.spec().equals(spec)).mapToInt(e -> e.references).sum();
    }

    private static int references(EngineSpec spec, int gpu) {
        Entry entry = ENGINES.get(new Key(spec, gpu));
        return entry == null ? 0 : entry.references;
    }

    private static String where(Key key) {
        return key.gpu() < 0 ? key.spec().device() : key.spec().device() + " (placed on cuda:" + key.gpu() + ")";
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
            ENGINES.remove(entry.key, entry); // only if it is still the spec's engine
            entry.model.close();
            LOG.info("closed the engine of {} on {}", entry.key.spec().modelName(), where(entry.key));
        }
    }
}
