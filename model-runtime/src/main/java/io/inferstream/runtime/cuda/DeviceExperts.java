package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.ExpertWeights;
import io.inferstream.runtime.model.Experts;
import io.inferstream.runtime.tensor.Matrix;
import io.inferstream.runtime.tensor.QuantPlanes;

/**
 * One layer's mixture-of-experts weights in device memory ({@link ExpertWeights}): the router and the shared expert as
 * {@link DeviceMatrix}es (the router as the file has it, F32 in llama-quantize's files, since the routing decides which
 * experts run), and each of gate, up and down as one stack [count, rows, cols] that experts.cu's kernels index by
 * expert. A stack's type: Q8_0 as the CPU holds it (int8 quants and a float scale per 32), and Q4_K / Q6_K as their
 * planes where the load keeps K-quants ({@link DeviceMatrix#deviceType}), so a quantized mixture takes about a byte or
 * less per weight on the device, as on the CPU; BF16 from BF16 or F32 files; F16 otherwise (decoded on the host). Each
 * role has its own (llama-quantize's Q4_K_M writes down in Q6_K beside Q4_K gate and up); gate and up, which one kernel
 * reads together, share theirs, F16 where the file's differ.
 */
final class DeviceExperts implements AutoCloseable {

    final DeviceMatrix router;      // [count, dim] as the file has it, multiplied from float activations
    final Stack gate;               // [count, hidden, dim]
    final Stack up;                 // [count, hidden, dim], of gate's type
    final Stack down;               // [count, dim, hidden]
    final DeviceMatrix sharedGate;  // [sharedHidden, dim], or null without a shared expert
    final DeviceMatrix sharedUp;    // [sharedHidden, dim], or null
    final DeviceMatrix sharedDown;  // [dim, sharedHidden], or null
    final DeviceBuffer sharedRouter; // [dim] the shared expert's gate (Qwen2-MoE), or null
    private final List<AutoCloseable> owned = new ArrayList<>();

    /**
     * One role's experts on the device.
     *
     * @param type   BF16, F16, Q8_0, Q4_K or Q6_K
     * @param data   the weights (a quantized type's quants), expert after expert
     * @param scales a quantized type's scales (Q4_K: each group's scale and min side by side), else null
     */
    record Stack(GgmlType type, DeviceBuffer data, DeviceBuffer scales) {

        /** The suffix of the expert kernels for this type: "bf16", "f16", "q8_0", "q4_k" or "q6_k". */
        String suffix() {
            return type.name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Whether the experts are quantized planes (the kernels then take the scales after the data). */
        boolean quantized() {
            return scales != null;
        }
    }

    /** The experts' type on the device for experts of {@code source} type ({@code kQuants}: Q4_K and Q6_K kept). */
    static GgmlType expertType(GgmlType source, boolean kQuants) {
        return switch (source) {
            case BF16, F32 -> GgmlType.BF16;
            case Q8_0 -> GgmlType.Q8_0;
            case Q4_K, Q6_K -> kQuants ? source : GgmlType.F16;
            default -> GgmlType.F16;
        };
    }

    /** Device bytes of one layer's mixture {@code w} of shape {@code e} ({@code dim} wide). */
    static long bytes(ExpertWeights w, Experts e, int dim, boolean f32ToBf16, boolean kQuants) {
        long b = DeviceMatrix.deviceBytes(w.router().type(), false, false, w.router().rows(), w.router().cols());
        // a stack of experts takes what one matrix of its device type takes, as DeviceMatrix holds it
        GgmlType pair = pairType(w, kQuants);
        b += 2 * DeviceMatrix.deviceBytes(pair, false, kQuants, e.count() * e.hidden(), dim);
        b += DeviceMatrix.deviceBytes(stackType(w.down(), kQuants), false, kQuants, e.count() * dim, e.hidden());
        if (w.hasShared()) {
            for (Matrix m : new Matrix[] {w.sharedGate(), w.sharedUp(), w.sharedDown()}) {
                b += DeviceMatrix.deviceBytes(m.type(), f32ToBf16, kQuants, m.rows(), m.cols());
            }
        }
        return b + (w.sharedRouter() == null ? 0 : 4L * dim);
    }

    /** Uploads {@code w}; frees what it uploaded if any upload fails. */
    static DeviceExperts upload(Checkpoint checkpoint, ExpertWeights w, Experts e, int dim, boolean f32ToBf16, boolean kQuants,
                                String layer) {
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceExperts d = new DeviceExperts(checkpoint, w, e, dim, f32ToBf16, kQuants, layer, owned);
            owned.clear();
            return d;
        } finally {
            DeviceWeights.close(owned);
        }
    }

    private DeviceExperts(Checkpoint checkpoint, ExpertWeights w, Experts e, int dim, boolean f32ToBf16, boolean kQuants,
                          String layer, List<AutoCloseable> owned) {
        if (dim % 8 != 0 || e.hidden() % 8 != 0) { // DeviceSupport refuses such a model before its load
            throw new IllegalArgumentException(layer + ": experts of " + e.hidden() + " x " + dim + ", widths not multiples of 8");
        }
        router = own(owned, DeviceMatrix.upload(w.router(), checkpoint.tensorData(w.router().name()), false, false));
        GgmlType pair = pairType(w, kQuants);
        gate = stack(owned, w.gate(), pair, layer + " ffn_gate_exps");
        up = stack(owned, w.up(), pair, layer + " ffn_up_exps");
        down = stack(owned, w.down(), stackType(w.down(), kQuants), layer + " ffn_down_exps");
        if (w.hasShared()) {
            sharedGate = own(owned, DeviceMatrix.upload(w.sharedGate(), checkpoint.tensorData(w.sharedGate().name()), f32ToBf16, kQuants));
            sharedUp = own(owned, DeviceMatrix.upload(w.sharedUp(), checkpoint.tensorData(w.sharedUp().name()), f32ToBf16, kQuants));
            sharedDown = own(owned, DeviceMatrix.upload(w.sharedDown(), checkpoint.tensorData(w.sharedDown().name()), f32ToBf16, kQuants));
        } else {
            sharedGate = sharedUp = sharedDown = null;
        }
        if (w.sharedRouter() != null) {
            sharedRouter = own(owned, DeviceBuffer.allocate(4L * dim, layer + " ffn_gate_inp_shexp"));
            sharedRouter.upload(w.sharedRouter(), dim);
        } else {
            sharedRouter = null;
        }
        this.owned.addAll(owned);
    }

    /** The device type of one role's experts: their file type's, or F16 where the experts differ in type. */
    private static GgmlType stackType(Matrix[] experts, boolean kQuants) {
        for (Matrix m : experts) {
            if (m.type() != experts[0].type()) {
                return GgmlType.F16;
            }
        }
        return expertType(experts[0].type(), kQuants);
    }

    /** The device type gate and up share (one kernel reads both): theirs where it is the same, else F16. */
    private static GgmlType pairType(ExpertWeights w, boolean kQuants) {
        GgmlType gate = stackType(w.gate(), kQuants);
        return gate == stackType(w.up(), kQuants) ? gate : GgmlType.F16;
    }

    /**
     * The experts' matrices in one [count, rows, cols] stack of {@code type}: 16-bit types decoded row by row on the
     * host; the quantized types' planes back to back, Q4_K's scale and min of a group side by side as the kernels read
     * them.
     */
    private static Stack stack(List<AutoCloseable> owned, Matrix[] experts, GgmlType type, String what) {
        long weights = (long) experts[0].rows() * experts[0].cols();
        for (int i = 0; i < experts.length; i++) {
            if (experts[i].rows() != experts[0].rows() || experts[i].cols() != experts[0].cols()) {
                throw new IllegalArgumentException(what + ": expert " + i + " is " + experts[i].rows() + " x " + experts[i].cols()
                        + ", expert 0 " + experts[0].rows() + " x " + experts[0].cols());
            }
        }
        if (type == GgmlType.BF16 || type == GgmlType.F16) {
            DeviceBuffer b = own(owned, DeviceBuffer.allocate(2 * weights * experts.length, what));
            for (int i = 0; i < experts.length; i++) {
                b.uploadAt(DeviceMatrix.halves(experts[i], type), i * 2 * weights);
            }
            return new Stack(type, b, null);
        }
        int group = type == GgmlType.Q6_K ? 16 : 32;
        long quantBytes = type == GgmlType.Q4_K ? weights / 2 : weights;
        long scaleFloats = (type == GgmlType.Q4_K ? 2 : 1) * weights / group;
        DeviceBuffer q = own(owned, DeviceBuffer.allocate(quantBytes * experts.length, what));
        DeviceBuffer sc = own(owned, DeviceBuffer.allocate(4 * scaleFloats * experts.length, what + " scales"));
        for (int i = 0; i < experts.length; i++) {
            QuantPlanes p = experts[i].planes();
            if (p == null || p.type() != type || p.quants().length != quantBytes) {
                throw new IllegalStateException(what + ": expert " + i + " holds no " + type + " planes of " + quantBytes + " bytes");
            }
            q.uploadAt(p.quants(), i * quantBytes);
            sc.uploadAt(DeviceMatrix.kernelScales(p), i * 4 * scaleFloats);
        }
        return new Stack(type, q, sc);
    }

    private static <T extends AutoCloseable> T own(List<AutoCloseable> owned, T t) {
        owned.add(t);
        return t;
    }

    /** The shared expert's matrices (for the products' scratch and packing), empty without one. */
    List<DeviceMatrix> sharedMatrices() {
        return sharedGate == null ? List.of() : List.of(sharedGate, sharedUp, sharedDown);
    }

    @Override
    public void close() {
        DeviceWeights.close(owned);
    }
}
