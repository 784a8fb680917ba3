package io.inferstream.runtime.cuda;

import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.ModelConfig;

/**
 * The device buffers of one forward step for up to {@link #capacity} tokens (llama2.c's {@code RunState}): the
 * activations, the logits, the head's candidates and the uploaded step metadata. Reallocated, contents lost, when a
 * step needs more tokens; recorded CUDA graphs name these buffers, so the model bumps its graph generation then.
 */
final class StepBuffers implements AutoCloseable {

    private final ModelConfig config;
    int capacity;
    DeviceBuffer x;      // [n, dim] residual stream
    DeviceBuffer xb;     // [n, dim]
    DeviceBuffer q;      // [n, qDim]
    DeviceBuffer kBuf;   // [n, kvDim]
    DeviceBuffer vBuf;   // [n, kvDim]
    DeviceBuffer att;    // [n, qDim]
    DeviceBuffer hb;     // [n, hidden]
    DeviceBuffer hb2;    // [n, hidden]
    DeviceBuffer logits; // [n, vocab]
    DeviceBuffer ints;   // step metadata, see CudaLlamaModel.prepare
    DeviceBuffer candidates; // [n, 2 * MAX_K + 2]: topk_rows' logits [m, k] | ids [m, k] | (max, sum exp) [m, 2]
    DeviceBuffer headScratch; // two-stage argmax / top-k over long rows: per row and chunk, k (logit, id) + 2 stats
    int intsCapacity;    // ints of step metadata `ints` holds

    StepBuffers(ModelConfig config) {
        this.config = config;
    }

    /** Frees the buffers and allocates them for {@code c} tokens. */
    void allocate(int c) {
        close();
        long f = 4L * c;
        int qDim = config.nHeads() * config.headDim();
        x = DeviceBuffer.allocate(f * config.dim(), "activations x");
        xb = DeviceBuffer.allocate(f * config.dim(), "activations xb");
        q = DeviceBuffer.allocate(f * qDim, "activations q");
        kBuf = DeviceBuffer.allocate(f * config.kvDim(), "activations k");
        vBuf = DeviceBuffer.allocate(f * config.kvDim(), "activations v");
        att = DeviceBuffer.allocate(f * qDim, "activations att");
        hb = DeviceBuffer.allocate(f * config.hiddenDim(), "activations hb");
        hb2 = DeviceBuffer.allocate(f * config.hiddenDim(), "activations hb2");
        logits = DeviceBuffer.allocate(f * config.vocabSize(), "logits");
        candidates = DeviceBuffer.allocate(f * (2L * LogitCandidates.MAX_K + 2), "logit candidates");
        int chunks = LogitHead.chunks(config.vocabSize());
        headScratch = chunks == 0 ? null
                : DeviceBuffer.allocate(f * chunks * (2L * LogitCandidates.MAX_K + 2), "argmax / top-k chunk scratch");
        intsCapacity = 5 * c + 1024;
        ints = DeviceBuffer.allocate(4L * intsCapacity, "step metadata");
        capacity = c;
    }

    /** Grows the metadata buffer to at least {@code total} ints; whether it moved. */
    boolean ensureInts(int total) {
        if (total <= intsCapacity) {
            return false;
        }
        ints.close();
        intsCapacity = Math.max(total, 2 * intsCapacity);
        ints = DeviceBuffer.allocate(4L * intsCapacity, "step metadata");
        return true;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[] {x, xb, q, kBuf, vBuf, att, hb, hb2, logits, candidates, headScratch, ints}) {
            if (b != null) {
                b.close();
            }
        }
        capacity = 0;
    }
}
