package io.inferstream.runtime.cuda;

import java.util.Optional;

import io.inferstream.runtime.model.Experts;
import io.inferstream.runtime.model.ModelConfig;

/**
 * Whether the CUDA backend's kernels run a model of a given shape, decided from its config alone (no JCuda class is
 * loaded, so {@code --device auto} can ask before it opens a device): every architecture the CPU runs, within the
 * kernels' limits on head sizes and expert widths.
 */
public final class DeviceSupport {

    /** attention.cu: MAX_HEAD_DIM (8 floats of the output head per lane). */
    static final int MAX_HEAD_DIM = 256;
    /** experts.cu: MOE_MAX_EXPERTS (moe_group's counters in shared memory). */
    static final int MAX_EXPERTS = 1024;

    private DeviceSupport() {
    }

    /** Why the CUDA backend cannot run a model of {@code config}, or empty when it can. */
    public static Optional<String> refusal(ModelConfig config) {
        if (config.nHeads() % config.nKvHeads() != 0) {
            return Optional.of("head_count " + config.nHeads() + " is not a multiple of head_count_kv " + config.nKvHeads());
        }
        if (config.headDim() > MAX_HEAD_DIM || config.headDim() % 2 != 0) {
            return Optional.of("heads of " + config.headDim() + " dimensions: the CUDA attention kernel supports even head "
                    + "sizes up to " + MAX_HEAD_DIM);
        }
        Experts e = config.block().experts();
        if (e != null && (config.dim() % 8 != 0 || e.hidden() % 8 != 0)) {
            return Optional.of("experts of " + e.hidden() + " x " + config.dim() + ": the CUDA expert kernels read rows in "
                    + "16-byte pieces and need both widths to be multiples of 8");
        }
        if (e != null && e.count() > MAX_EXPERTS) {
            return Optional.of(e.count() + " experts: the CUDA expert kernels group at most " + MAX_EXPERTS);
        }
        return Optional.empty();
    }
}
