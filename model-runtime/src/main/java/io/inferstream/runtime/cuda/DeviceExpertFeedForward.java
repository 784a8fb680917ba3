package io.inferstream.runtime.cuda;

import io.inferstream.runtime.model.Experts;

/**
 * A mixture-of-experts feed-forward block on the device for the n tokens of a step: the CPU's ExpertFeedForward as
 * launches of experts.cu (router product, moe_route, moe_group, moe_gate_up, moe_down, moe_combine) and, with a
 * shared expert, three ordinary products and a SwiGLU. Each expert multiplies the tokens that chose it together, its
 * weights read once per 8 of them on CUDA cores, or, where the experts serve many tokens each (a prefill chunk, a
 * wide decode batch), once per 64 on tensor cores (moe_mma_*, moe_quant_mma_*: the inputs rounded to 16 bits, and
 * quantized weights decoded to F16, as the dense products of such steps round them). The kernels find their tokens in device memory, so nothing
 * comes back to the host and the step stays one CUDA graph. Holds the step's scratch, grown with the largest batch
 * (contents lost).
 */
final class DeviceExpertFeedForward implements AutoCloseable {

    private final Experts experts;
    private final int dim;
    private int capacity;
    private DeviceBuffer probs;    // [n, count] router scores, then probabilities
    private DeviceBuffer chosen;   // [n, used] each token's experts, most probable first
    private DeviceBuffer weights;  // [n, used] their weights in the sum
    private DeviceBuffer order;    // [n * used] the slots grouped by expert
    private DeviceBuffer first;    // [count + 1] each expert's first entry in order
    private DeviceBuffer hidden;   // [n * used, hidden] each slot's SwiGLU activations
    private DeviceBuffer out;      // [n * used, dim] each slot's expert output
    private DeviceBuffer sharedGate; // [n, sharedHidden] the shared expert's gate, then SwiGLU
    private DeviceBuffer sharedUp;   // [n, sharedHidden]
    private DeviceBuffer shared;     // [n, dim] the shared expert's output
    private Boolean tensorCores;     // forced either way, or null: by tensorCoreSlots
    private int tensorCoreSlots = TENSOR_CORE_SLOTS; // the load-time trial may move it (ExpertKernelChoices)

    /**
     * The slots per expert, on average over a step (n · used / count), from which the experts run on tensor cores.
     * At 16 the CUDA-core kernels read each weight twice (8 slots a pass) with float FMAs; the tensor-core kernels read
     * it once per 64 slots. Decode of a few sequences stays on CUDA cores, where no input is rounded. The default
     * before the load-time trial ({@link ExpertKernelChoices}) times both ways; not measured on a GPU yet.
     */
    static final int TENSOR_CORE_SLOTS = 16;
    /** Slots per tile of the tensor-core kernels (experts.cu MOE_TILE). */
    private static final int TILE = 64;

    DeviceExpertFeedForward(Experts experts, int dim) {
        this.experts = experts;
        this.dim = dim;
    }

    /** Device bytes of the scratch for {@code tokens} tokens. */
    static long bytes(Experts e, int dim, int tokens) {
        long slots = (long) tokens * e.used();
        long b = 4L * tokens * e.count() + 4L * 2 * slots + 4L * slots + 4L * (e.count() + 1)
                + 4L * slots * (e.hidden() + dim);
        return b + (e.sharedHidden() > 0 ? 4L * tokens * (2L * e.sharedHidden() + dim) : 0);
    }

    /** Grows the scratch to at least {@code n} tokens; whether it moved (recorded graphs name these buffers). */
    boolean ensure(int n) {
        if (n <= capacity) {
            return false;
        }
        close();
        long slots = (long) n * experts.used();
        probs = DeviceBuffer.allocate(4L * n * experts.count(), "router probabilities");
        chosen = DeviceBuffer.allocate(4L * slots, "chosen experts");
        weights = DeviceBuffer.allocate(4L * slots, "expert weights");
        order = DeviceBuffer.allocate(4L * slots, "slots by expert");
        first = DeviceBuffer.allocate(4L * (experts.count() + 1), "expert offsets");
        hidden = DeviceBuffer.allocate(4L * slots * experts.hidden(), "expert activations");
        out = DeviceBuffer.allocate(4L * slots * dim, "expert outputs");
        if (experts.sharedHidden() > 0) {
            sharedGate = DeviceBuffer.allocate(4L * n * experts.sharedHidden(), "shared expert gate");
            sharedUp = DeviceBuffer.allocate(4L * n * experts.sharedHidden(), "shared expert up");
            shared = DeviceBuffer.allocate(4L * n * dim, "shared expert output");
        }
        capacity = n;
        return true;
    }

    /** Forces the experts' tensor-core products on or off; null: from {@link #tensorCoreSlots} slots per expert on. */
    void useTensorCores(Boolean on) {
        tensorCores = on;
    }

    /** Runs the experts on tensor cores from {@code slots} slots per expert on average (Integer.MAX_VALUE: never). */
    void useTensorCoreSlots(int slots) {
        tensorCoreSlots = slots;
    }

    /** Whether a step of {@code n} tokens runs the experts on tensor cores. */
    boolean tensorCores(int n) {
        return tensorCores != null ? tensorCores : (long) n * experts.used() >= (long) tensorCoreSlots * experts.count();
    }

    /** What {@link #tensorCores(int)} decides, in words (kernelChoices). */
    String tensorCoreChoice() {
        if (tensorCores != null) {
            return tensorCores ? "tensor cores (moe_mma) in every step, forced" : "CUDA cores in every step, forced";
        }
        if (tensorCoreSlots == Integer.MAX_VALUE) {
            return "CUDA cores in every step";
        }
        long tokens = (tensorCoreSlots * (long) experts.count() + experts.used() - 1) / experts.used();
        return "tensor cores (moe_mma) in steps of " + tokens + "+ tokens (" + tensorCoreSlots
                + " slots per expert on average), CUDA cores below";
    }

    /** xb[t] = Σ_j p_j · expert_j(xb[t]) (+ the shared expert) for t &lt; n, in place. */
    void forward(CudaKernels k, DeviceExperts w, DeviceBuffer xb, int n, SkinnyScratch skinny) {
        int count = experts.count();
        int used = experts.used();
        int slots = n * used;
        // the router's scores from float activations whatever its type (a 16-bit router would round them on tensor
        // cores): the scores pick the experts, so they follow the CPU's as closely as a different summation order allows
        w.router.matmul(k, xb, probs, n, n <= DeviceMatrix.MATVEC_MAX_TOKENS ? DeviceMatrix.Kernel.MATVEC : DeviceMatrix.Kernel.TILED);
        k.launch("moe_route", (n + 63) / 64, 1, 64, 0, probs, n, count, used, experts.normalize() ? 1 : 0,
                experts.weightsScale(), chosen, weights);
        k.launch("moe_group", 1, 1, 32, 0, chosen, slots, count, order, first);
        DeviceExperts.Stack g = w.gate;
        DeviceExperts.Stack u = w.up; // of gate's type
        DeviceExperts.Stack d = w.down;
        int hid = experts.hidden();
        if (tensorCores(n)) { // grid (row blocks of 32, the most tiles of TILE slots the experts' runs can make)
            int tiles = slots / TILE + Math.min(count, slots);
            if (g.quantized()) { // the planes, each with its scales, decoded to F16 as the tiles load
                k.launch("moe_quant_mma_gate_up_" + g.suffix(), (hid + 31) / 32, tiles, 128, 0, g.data(), g.scales(), u.data(),
                        u.scales(), xb, order, first, count, used, dim, hid, hidden);
            } else {
                k.launch("moe_mma_gate_up_" + g.suffix(), (hid + 31) / 32, tiles, 128, 0, g.data(), u.data(), xb, order, first,
                        count, used, dim, hid, hidden);
            }
            if (d.quantized()) {
                k.launch("moe_quant_mma_down_" + d.suffix(), (dim + 31) / 32, tiles, 128, 0, d.data(), d.scales(), hidden, order,
                        first, count, dim, hid, out);
            } else {
                k.launch("moe_mma_down_" + d.suffix(), (dim + 31) / 32, tiles, 128, 0, d.data(), hidden, order, first, count, dim,
                        hid, out);
            }
        } else { // grid (row blocks of 8: a warp per row, experts)
            if (g.quantized()) {
                k.launch("moe_quant_gate_up_" + g.suffix(), (hid + 7) / 8, count, 256, 0, g.data(), g.scales(), u.data(), u.scales(),
                        xb, order, first, used, dim, hid, hidden);
            } else {
                k.launch("moe_gate_up_" + g.suffix(), (hid + 7) / 8, count, 256, 0, g.data(), u.data(), xb, order, first, used, dim,
                        hid, hidden);
            }
            if (d.quantized()) {
                k.launch("moe_quant_down_" + d.suffix(), (dim + 7) / 8, count, 256, 0, d.data(), d.scales(), hidden, order, first,
                        dim, hid, out);
            } else {
                k.launch("moe_down_" + d.suffix(), (dim + 7) / 8, count, 256, 0, d.data(), hidden, order, first, dim, hid, out);
            }
        }
        if (w.sharedGate != null) {
            int width = experts.sharedHidden();
            w.sharedGate.matmul(k, xb, sharedGate, n, skinny);
            w.sharedUp.matmul(k, xb, sharedUp, n, skinny);
            k.launch("swiglu", CudaKernels.blocks(n * width), 1, 256, 0, sharedGate, sharedUp, n * width);
            w.sharedDown.matmul(k, sharedGate, shared, n, skinny);
        }
        k.launch("moe_combine", n, 1, 256, 0, xb, out, weights, used, w.sharedGate == null ? null : shared,
                w.sharedRouter, dim);
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[] {probs, chosen, weights, order, first, hidden, out, sharedGate, sharedUp, shared}) {
            if (b != null) {
                b.close();
            }
        }
        probs = chosen = weights = order = first = hidden = out = sharedGate = sharedUp = shared = null;
        capacity = 0;
    }
}
