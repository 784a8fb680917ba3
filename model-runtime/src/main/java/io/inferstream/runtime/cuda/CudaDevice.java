package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxReset;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One CUDA device, driven through JCuda's driver API (its JNI library needs only the driver's libcuda.so).
 * Uses the device's primary context, made current on whichever thread calls in.
 *
 * <p>Nothing here touches JCuda at class-loading time: {@link #probe()} is the first call into it and turns
 * a missing native library or driver into an unavailable {@link Probe} instead of an error.
 */
public final class CudaDevice implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDevice.class);

    /** What {@code cuInit} found: whether a device can be used and, if not, why. */
    public record Probe(boolean available, int deviceCount, String reason, String remedy) {

        /** What to do when no device is found: there may be none, so use another backend. */
        public static final String OTHER_BACKENDS = "use --device cpu or --device auto";

        /** A probe whose remedy is {@link #OTHER_BACKENDS}. */
        public Probe(boolean available, int deviceCount, String reason) {
            this(available, deviceCount, reason, OTHER_BACKENDS);
        }
    }

    /**
     * Why JCuda's driver library cannot be used here, and the remedy, from its loading failure. A JVM binds a native
     * library to the one class loader that loaded it: when another class loader in this JVM has loaded JCuda (a job
     * submitted earlier to the same Flink TaskManager, each job getting its own class loader), this one never can.
     */
    public static Probe linkageFailure(LinkageError e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("already loaded in another classloader")) {
            return new Probe(false, 0, "JCuda's native library is already loaded by another class loader in this JVM "
                    + "(an earlier job on this Flink TaskManager: Flink loads each job's classes anew, a JVM binds a native "
                    + "library to one class loader)", "put the jcuda and jcuda-natives jars on the TaskManager's class path "
                    + "(Flink's lib/) and set classloader.parent-first-patterns.additional: jcuda. as deploy/local/cluster.sh "
                    + "and deploy/k8s do (docs/operations.md, \"GPU jobs on a session cluster\")");
        }
        String reason = cause(e);
        if (e instanceof NoClassDefFoundError && msg.startsWith("Could not initialize class")) {
            // JCuda is on the TaskManager's class path, shared by every job's class loader: its class failed to
            // initialise for an earlier probe in this JVM, and this error has lost why. That probe left it here.
            String first = System.getProperty(LINKAGE_FAILURE_PROPERTY);
            if (first != null) {
                reason = first + " (when this JVM first loaded it; now: " + reason + ")";
            }
        } else {
            System.getProperties().putIfAbsent(LINKAGE_FAILURE_PROPERTY, reason);
        }
        return new Probe(false, 0, "the JCuda driver library could not be loaded: " + reason);
    }

    /** System property with the first JCuda loading failure's reason in this JVM, for the class loaders after it. */
    static final String LINKAGE_FAILURE_PROPERTY = "inferstream.cuda.linkageFailure";

    private static Probe probe;
    /**
     * Held while a device is opened, in the whole JVM: a String literal is one object for every class loader, and the
     * primary context is the process's, shared by the jobs Flink loads in class loaders of their own. Two opens after
     * a loss must not both reset the context (the second reset would end the first's new one).
     */
    private static final Object OPEN_LOCK = "io.inferstream.runtime.cuda.CudaDevice#open";
    /** System property prefix counting each device's context resets ({@link #resets}). */
    private static final String RESETS_PROPERTY = "inferstream.cuda.contextResets.";
    /** System property prefix counting each device's open {@code CudaDevice}s in the JVM ({@link #openInThisJvm}). */
    private static final String OPEN_PROPERTY = "inferstream.cuda.open.";
    /** Guards those counts, in the whole JVM (not {@link #OPEN_LOCK}: close() counts while holding a context lock). */
    private static final Object COUNT_LOCK = "io.inferstream.runtime.cuda.CudaDevice#count";

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    /** Retains of the primary context this object holds (two after a reset: see {@link #open}), each released once. */
    private final int retains;
    private final int generation;
    private final String name;
    private final int computeMajor;
    private final int computeMinor;
    private CudaKernels kernels;
    private boolean closed;

    private CudaDevice(int ordinal, CUdevice device, CUcontext context, int retains, String name, int major, int minor) {
        this.ordinal = ordinal;
        this.device = device;
        this.context = context;
        this.retains = retains;
        this.generation = resets(ordinal);
        this.name = name;
        this.computeMajor = major;
        this.computeMinor = minor;
    }

    /** Loads JCuda's driver library and calls cuInit once; never throws. */
    public static synchronized Probe probe() {
        if (probe == null) {
            probe = doProbe();
        }
        return probe;
    }

    private static Probe doProbe() {
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (count[0] == 0) {
                return new Probe(false, 0, "cuInit succeeded but the driver reports no CUDA device");
            }
            return new Probe(true, count[0], count[0] + " CUDA device(s)");
        } catch (LinkageError e) {
            return linkageFailure(e);
        } catch (CudaException e) {
            return new Probe(false, 0, "cuInit failed: " + e.getMessage());
        } catch (RuntimeException e) {
            return new Probe(false, 0, "CUDA initialisation failed: " + e);
        }
    }

    /** One line of a native-library failure: the loader's own reason (e.g. "libcuda.so.1: cannot open ..."). */
    private static String cause(Throwable e) {
        String msg = String.valueOf(e.getMessage());
        String first = msg.lines().findFirst().orElse(msg).trim();
        return msg.lines()
                .filter(l -> l.contains("cannot open shared object") || l.contains("undefined symbol"))
                .map(l -> l.replaceFirst("^.*?UnsatisfiedLinkError: ", "").trim())
                .reduce((a, b) -> b)
                .orElse(first);
    }

    /**
     * Opens device {@code ordinal} (compute capability 8.0 or newer) and loads the kernels, one open at a time in the
     * JVM ({@link #OPEN_LOCK}).
     */
    public static CudaDevice open(int ordinal) {
        synchronized (OPEN_LOCK) {
            return openLocked(ordinal);
        }
    }

    /**
     * Resets of device {@code ordinal}'s primary context in this process, counted in a system property so that every
     * class loader's devices see them: a device opened before a reset must not touch the new context, whose addresses
     * may be its old ones.
     */
    private static int resets(int ordinal) {
        return Integer.parseInt(System.getProperty(RESETS_PROPERTY + ordinal, "0"));
    }

    /**
     * How many models hold device {@code ordinal} open in this JVM, in every class loader (each job on a Flink
     * TaskManager has its own): what spreads a TaskManager's engines over its GPUs without creating a context on each
     * to ask for its free memory. A system property, like {@link #resets}.
     */
    public static int openInThisJvm(int ordinal) {
        synchronized (COUNT_LOCK) {
            return Integer.parseInt(System.getProperty(OPEN_PROPERTY + ordinal, "0"));
        }
    }

    private static void countOpen(int ordinal, int delta) {
        synchronized (COUNT_LOCK) {
            System.setProperty(OPEN_PROPERTY + ordinal, Integer.toString(Math.max(0, openInThisJvm(ordinal) + delta)));
        }
    }

    private static CudaDevice openLocked(int ordinal) {
        Probe p = probe();
        if (!p.available()) {
            throw new IllegalStateException("no CUDA device: " + p.reason() + " (" + p.remedy() + ")");
        }
        if (ordinal < 0 || ordinal >= p.deviceCount()) {
            throw new IllegalArgumentException("CUDA device " + ordinal + " does not exist; this machine has "
                    + p.deviceCount() + " (cuda:0 .. cuda:" + (p.deviceCount() - 1) + ")");
        }
        CUdevice dev = new CUdevice();
        cuDeviceGet(dev, ordinal);
        byte[] nameBytes = new byte[256];
        cuDeviceGetName(nameBytes, nameBytes.length, dev);
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) {
            len++;
        }
        String name = new String(nameBytes, 0, len, StandardCharsets.US_ASCII);
        int[] major = new int[1];
        int[] minor = new int[1];
        cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        if (major[0] < 8) {
            throw new IllegalStateException("CUDA device " + ordinal + " (" + name + ") has compute capability "
                    + major[0] + "." + minor[0] + "; the kernels need 8.0 or newer (bf16 tensor cores)");
        }
        CUcontext ctx = new CUcontext();
        cuDevicePrimaryCtxRetain(ctx, dev);
        int retains = 1;
        Optional<String> sticky = contextError(ctx, ordinal);
        if (sticky.isPresent()) {
            // The primary context is this process's, shared by every model on the device: one that took a sticky error
            // (an earlier model's failed launch, whose owner has not released it yet) refuses every call until it is
            // destroyed. A reset destroys it and its allocations, which that failed model can no longer use anyway.
            LOG.warn("cuda:{} ({}): its context was lost to an earlier error ({}); resetting it", ordinal, name, sticky.get());
            cuDevicePrimaryCtxReset(dev);
            System.setProperty(RESETS_PROPERTY + ordinal, Integer.toString(resets(ordinal) + 1)); // under OPEN_LOCK
            ctx = new CUcontext();
            cuDevicePrimaryCtxRetain(ctx, dev); // a reset keeps the retains; this one is the new context's handle
            retains = 2;
            Optional<String> still = contextError(ctx, ordinal);
            if (still.isPresent()) {
                releaseQuietly(dev, retains);
                throw new IllegalStateException("CUDA device " + ordinal + " (" + name + ") is unusable even after a "
                        + "reset of its context: " + still.get());
            }
        }
        CudaDevice d = new CudaDevice(ordinal, dev, ctx, retains, name, major[0], minor[0]);
        countOpen(ordinal, 1); // close() takes it back
        try {
            d.kernels = CudaKernels.load(major[0]);
        } catch (RuntimeException | LinkageError e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** The error cuCtxSynchronize reports for {@code ctx} (a sticky one survives every later call), or empty. */
    private static Optional<String> contextError(CUcontext ctx, int ordinal) {
        try {
            cuCtxSetCurrent(ctx);
            ContextLock.makeCurrent(ordinal);
            ContextLock.synchronizeCurrent(); // not while another thread records a graph on the device
            return Optional.empty();
        } catch (CudaException e) {
            return Optional.of(String.valueOf(e.getMessage()));
        }
    }

    private static void releaseQuietly(CUdevice dev, int times) {
        for (int i = 0; i < times; i++) {
            try {
                cuDevicePrimaryCtxRelease(dev);
            } catch (CudaException e) {
                LOG.debug("releasing a primary context: {}", e.getMessage());
            }
        }
    }

    /**
     * Why this device can no longer run anything, or empty while it can: a context that took a sticky error (an
     * illegal address, a failed launch, an uncorrectable ECC error: cuCtxSynchronize reports it from then on), or a
     * closed device. Waits for the device's queued work.
     */
    public synchronized Optional<String> lost() {
        if (closed) {
            return Optional.of("CUDA device " + ordinal + " is closed");
        }
        if (wasReset()) {
            return Optional.of(this + " was lost: its context has been reset since");
        }
        return contextError(context, ordinal).map(e -> this + " was lost: " + e);
    }

    /** Whether a later {@link #open} reset the context after a loss: its handles and memory are not this device's. */
    private boolean wasReset() {
        return resets(ordinal) != generation;
    }

    /** Makes this device's context current on the calling thread (cheap; every entry point calls it). */
    public void makeCurrent() {
        if (closed) {
            throw new IllegalStateException("CUDA device " + ordinal + " is closed");
        }
        if (wasReset()) {
            // Addresses of the old context may be the new one's: a late free through this object would free another's.
            throw new IllegalStateException(this + ": its context was reset after an error; this device is unusable");
        }
        cuCtxSetCurrent(context);
        ContextLock.makeCurrent(ordinal);
    }

    public void synchronize() {
        makeCurrent();
        ContextLock.synchronizeCurrent();
    }

    public CudaKernels kernels() {
        return kernels;
    }

    public int ordinal() {
        return ordinal;
    }

    public String name() {
        return name;
    }

    /** Streaming multiprocessors of this device (CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT). */
    public int multiprocessors() {
        int[] count = new int[1];
        makeCurrent();
        cuDeviceGetAttribute(count, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        return count[0];
    }

    public String computeCapability() {
        return computeMajor + "." + computeMinor;
    }

    /** [free, total] device memory in bytes. */
    public long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        cuMemGetInfo(free, total);
        return new long[] {free[0], total[0]};
    }

    @Override
    public String toString() {
        return "cuda:" + ordinal + " (" + name + ", compute " + computeCapability() + ")";
    }

    /**
     * Unloads the kernels and releases the primary context, which the driver destroys with the last release. On a lost
     * context the unloading is skipped (it would fail; the context's end frees the modules) and the release still
     * happens: otherwise the lost context would outlive this device and refuse the next model on it.
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            boolean usable = !wasReset() && contextError(context, ordinal).isEmpty();
            closed = true;
            countOpen(ordinal, -1);
            try {
                if (kernels != null && usable) {
                    cuCtxSetCurrent(context);
                    kernels.close();
                }
            } finally {
                releaseQuietly(device, retains);
            }
        }
    }
}
