package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.util.HashMap;
import java.util.Map;
import java.util.function.IntConsumer;

import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

import io.inferstream.runtime.kv.KvStore;

/**
 * Forward steps as CUDA graphs: the launches of a step are recorded once per step shape on this object's stream and
 * replayed with one launch (the step's metadata is uploaded before each replay into the same buffer). On by default
 * (the first H200 run showed replays token-identical to eager steps); if recording fails, graphs turn off and
 * {@link #failure()} says why. The load-time kernel choices time their candidates the same way ({@link #nanos}).
 */
final class StepGraphs implements AutoCloseable {

    /**
     * What a recorded step depends on: the shape of the metadata (with the tiled attention's items: 0 when the step
     * runs the other attention), the KV pools, the scratch buffers (the model's buffer generation), and its head (0:
     * argmax_rows; k: topk_rows with k candidates).
     */
    record Key(int n, int m, int maxBlocks, int items, KvStore kv, int generation, int head) {
    }

    /** Recorded graphs kept before all are dropped (a step shape is rarely needed again after that many others). */
    private static final int MAX_GRAPHS = 64;

    private final CudaDevice device;
    private final CudaKernels k;
    private boolean on = true;
    private String failure;
    private long launches;
    private CUstream stream; // blocking: ordered after the default stream's metadata copy
    private final Map<Key, CUgraphExec> cache = new HashMap<>();

    StepGraphs(CudaDevice device) {
        this.device = device;
        this.k = device.kernels();
    }

    boolean on() {
        return on;
    }

    void use(boolean on) {
        this.on = on;
    }

    /** Why graph recording was given up, or null. */
    String failure() {
        return failure;
    }

    /** Steps run as a graph replay so far. */
    long launches() {
        return launches;
    }

    /**
     * Replays the graph recorded for {@code key}, recording {@code step}'s launches first when there is none; where
     * recording fails, graphs turn off and the step runs eagerly.
     */
    void replay(Key key, Runnable step) {
        CUgraphExec exec = cache.get(key);
        if (exec == null) {
            exec = record(step);
            if (exec == null) {
                step.run();
                return;
            }
            if (cache.size() >= MAX_GRAPHS) {
                clear();
            }
            cache.put(key, exec);
        }
        synchronized (ContextLock.current()) {
            synchronized (ContextLock.current()) {
                cuGraphLaunch(exec, stream);
            }
        }
        launches++;
    }

    /** Records a step on the graph stream; null (and graphs off) when the driver refuses. */
    private CUgraphExec record(Runnable step) {
        try {
            return capture(v -> step.run(), 0);
        } catch (RuntimeException e) {
            on = false;
            failure = "CUDA graph recording failed, running eagerly: " + e.getMessage();
            return null;
        }
    }

    /**
     * Nanoseconds for {@code reps} replays of the launches of {@code launches.accept(v)} recorded as one CUDA graph
     * (after one untimed replay), or -1 when the driver refuses to record them. Leaves the step graphs as they are.
     */
    long nanos(IntConsumer launches, int v, int reps) {
        CUgraphExec exec = null;
        try {
            exec = capture(launches, v);
            synchronized (ContextLock.current()) {
                cuGraphLaunch(exec, stream);
            }
            device.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                synchronized (ContextLock.current()) {
                    cuGraphLaunch(exec, stream);
                }
            }
            device.synchronize();
            return System.nanoTime() - t0;
        } catch (RuntimeException e) {
            return -1;
        } finally {
            if (exec != null) {
                cuGraphExecDestroy(exec);
            }
        }
    }

    /** The launches of {@code launches.accept(v)} captured on the graph stream and instantiated; throws where refused. */
    private CUgraphExec capture(IntConsumer launches, int v) {
        synchronized (ContextLock.current()) { // the device's other engines keep off its legacy stream meanwhile
            return captureLocked(launches, v);
        }
    }

    private CUgraphExec captureLocked(IntConsumer launches, int v) {
        CUgraph graph = new CUgraph();
        boolean capturing = false;
        try {
            ensureStream();
            k.stream(stream);
            cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            capturing = true;
            launches.accept(v);
            capturing = false;
            cuStreamEndCapture(stream, graph);
            CUgraphExec exec = new CUgraphExec();
            cuGraphInstantiate(exec, graph, 0);
            cuGraphDestroy(graph);
            return exec;
        } catch (RuntimeException e) {
            if (capturing) {
                endInvalidCapture(graph);
            }
            throw e;
        } finally {
            k.stream(null);
        }
    }

    private void ensureStream() {
        if (stream == null) {
            stream = new CUstream();
            cuStreamCreate(stream, 0);
        }
    }

    private void endInvalidCapture(CUgraph graph) {
        try {
            cuStreamEndCapture(stream, graph);
        } catch (RuntimeException ignored) {
            // the capture is already invalid; ending it only resets the stream
        }
    }

    /** Drops every recorded graph. */
    void clear() {
        for (CUgraphExec e : cache.values()) {
            cuGraphExecDestroy(e);
        }
        cache.clear();
    }

    @Override
    public void close() {
        clear();
        if (stream != null) {
            cuStreamDestroy(stream);
            stream = null;
        }
    }
}
