package io.inferstream.runtime.cuda;

import java.util.ArrayList;
import java.util.List;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.ExpertWeights;
import io.inferstream.runtime.model.Experts;
import io.inferstream.runtime.tensor.Matrix;

/**
 * One layer's mixture-of-experts weights in device memory ({@link ExpertWeights}): the router and the shared expert as
 * {@link DeviceMatrix}es (the router as the file has it, F32 in llama-quantize's files, since the routing decides which
 * experts run), and each of gate, up and down as one 16-bit buffer [count, rows, cols] that experts.cu's kernels
 * index by expert: BF16 where the file's experts are BF16 or F32, else F16 (F16 as it is; Q8_0 and the K-quants
 * decoded to F16 on the host, as the dense matrices that are not kept quantized).
 */
final class DeviceExperts implements AutoCloseable {

    final DeviceMatrix router;      // [count, dim]
    final GgmlType type;            // BF16 or F16: the experts' type on the device
    final DeviceBuffer gate;        // [count, hidden, dim]
    final DeviceBuffer up;          // [count, hidden, dim]
    final DeviceBuffer down;        // [count, dim, hidden]
    final DeviceMatrix sharedGate;  // [sharedHidden, dim], or null without a shared expert
    final DeviceMatrix sharedUp;    // [sharedHidden, dim], or null
    final DeviceMatrix sharedDown;  // [dim, sharedHidden], or null
    final DeviceBuffer sharedRouter; // [dim] the shared expert's gate (Qwen2-MoE), or null
    private final List<AutoCloseable> owned = new ArrayList<>();

    /** The experts' type on the device for experts of {@code source} type. */
    static GgmlType expertType(GgmlType source) {
        return source == GgmlType.BF16 || source == GgmlType.F32 ? GgmlType.BF16 : GgmlType.F16;
    }

    /** Device bytes of one layer's mixture {@code w} of shape {@code e} ({@code dim} wide). */
    static long bytes(ExpertWeights w, Experts e, int dim, boolean f32ToBf16) {
        long b = DeviceMatrix.deviceBytes(w.router().type(), false, false, w.router().rows(), w.router().cols());
        b += 3L * 2 * e.count() * e.hidden() * dim;
        if (w.hasShared()) {
            for (Matrix m : new Matrix[] {w.sharedGate(), w.sharedUp(), w.sharedDown()}) {
                b += DeviceMatrix.deviceBytes(m.type(), f32ToBf16, false, m.rows(), m.cols());
            }
        }
        return b + (w.sharedRouter() == null ? 0 : 4L * dim);
    }

    /** Uploads {@code w}; frees what it uploaded if any upload fails. */
    static DeviceExperts upload(Checkpoint checkpoint, ExpertWeights w, Experts e, int dim, boolean f32ToBf16, String layer) {
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceExperts d = new DeviceExperts(checkpoint, w, e, dim, f32ToBf16, layer, owned);
            owned.clear();
            return d;
        } finally {
            close(owned);
        }
    }

    private DeviceExperts(Checkpoint checkpoint, ExpertWeights w, Experts e, int dim, boolean f32ToBf16, String layer,
                          List<AutoCloseable> owned) {
        if (dim % 8 != 0 || e.hidden() % 8 != 0) { // DeviceSupport refuses such a model before its load
            throw new IllegalArgumentException(layer + ": experts of " + e.hidden() + " x " + dim + ", widths not multiples of 8");
        }
        router = own(owned, DeviceMatrix.upload(w.router(), checkpoint.tensorData(w.router().name()), false, false));
        type = expertType(w.gate()[0].type());
        gate = stack(owned, w.gate(), layer + " ffn_gate_exps");
        up = stack(owned, w.up(), layer + " ffn_up_exps");
        down = stack(owned, w.down(), layer + " ffn_down_exps");
        if (w.hasShared()) {
            sharedGate = own(owned, DeviceMatrix.upload(w.sharedGate(), checkpoint.tensorData(w.sharedGate().name()), f32ToBf16, false));
            sharedUp = own(owned, DeviceMatrix.upload(w.sharedUp(), checkpoint.tensorData(w.sharedUp().name()), f32ToBf16, false));
            sharedDown = own(owned, DeviceMatrix.upload(w.sharedDown(), checkpoint.tensorData(w.sharedDown().name()), f32ToBf16, false));
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

    /** The experts' matrices decoded row by row into one [count, rows, cols] buffer of {@link #type}. */
    private DeviceBuffer stack(List<AutoCloseable> owned, Matrix[] experts, String what) {
        long each = 2L * experts[0].rows() * experts[0].cols();
        DeviceBuffer b = own(owned, DeviceBuffer.allocate(each * experts.length, what));
        for (int i = 0; i < experts.length; i++) {
            if (experts[i].rows() != experts[0].rows() || experts[i].cols() != experts[0].cols()) {
                throw new IllegalArgumentException(what + ": expert " + i + " is " + experts[i].rows() + " x "
                        + experts[i].cols() + ", expert 0 " + experts[0].rows() + " x " + experts[0].cols());
            }
            b.upload(DeviceMatrix.halves(experts[i], type), i * each);
        }
        return b;
    }

    private static <T extends AutoCloseable> T own(List<AutoCloseable> owned, T t) {
        owned.add(t);
        return t;
    }

    /** The shared expert's matrices (for the products' scratch and packing), empty without one. */
    List<DeviceMatrix> sharedMatrices() {
        return sharedGate == null ? List.of() : List.of(sharedGate, sharedUp, sharedDown);
    }

    /** The suffix of this mixture's expert kernels ("bf16" or "f16"). */
    String suffix() {
        return type == GgmlType.BF16 ? "bf16" : "f16";
    }

    @Override
    public void close() {
        close(owned);
    }

    private static void close(List<AutoCloseable> owned) {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("freeing device memory failed", e);
            }
        }
        owned.clear();
    }
}
