package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;

/**
 * One lock per CUDA device in the JVM, held by a stream capture for its whole length and by each operation on the
 * device's legacy stream (synchronous copies and memsets, eager launches, context synchronisation). While a blocking
 * stream of a context is being captured, CUDA refuses the legacy stream of that context to every thread
 * (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT) and invalidates the capture: so two engines on one GPU (two jobs on one
 * TaskManager: they share the device's primary context) would fail each other's steps whenever one records a CUDA graph.
 * An interned String, like {@code CudaDevice}'s open lock, so that every job's class loader gets the same lock.
 */
final class ContextLock {

    private static final ThreadLocal<Object> CURRENT = new ThreadLocal<>();
    /** For a thread that has made no device current: its CUDA calls fail anyway, with the driver's own error. */
    private static final Object NONE = "io.inferstream.runtime.cuda.ContextLock:none";

    private ContextLock() {
    }

    /** Device {@code ordinal}'s lock. */
    static Object of(int ordinal) {
        return ("io.inferstream.runtime.cuda.ContextLock:" + ordinal).intern();
    }

    /** Records that device {@code ordinal}'s context is current on this thread (what {@link #current()} returns). */
    static void makeCurrent(int ordinal) {
        CURRENT.set(of(ordinal));
    }

    /** The lock of the device whose context is current on this thread. */
    static Object current() {
        Object lock = CURRENT.get();
        return lock == null ? NONE : lock;
    }

    /** cuCtxSynchronize of the current context, under its lock (synchronising a context that is recording is refused). */
    static void synchronizeCurrent() {
        synchronized (current()) {
            cuCtxSynchronize();
        }
    }
}
