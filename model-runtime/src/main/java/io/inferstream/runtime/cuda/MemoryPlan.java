package io.inferstream.runtime.cuda;

import java.util.Locale;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/**
 * How a model's device memory is divided: {@code fraction} of the device's total memory is ours, or, when less than
 * that is free at load (beside a {@link #margin} left for the driver), {@code fraction} of what is free; the weights
 * and the activations of the largest batch come first and the KV pool gets the rest.
 *
 * <p>Why a share of the total first: several engines on one device (two jobs on one TaskManager each load their own,
 * or two TaskManagers share a GPU) then get the shares they were given whatever the order they load or restart in;
 * 0.45 each is 45 % each. A share of what is free would give the second to load 45 % of the 55 % left. What is not
 * free at load (total minus free) is held by this process's CUDA context and by every other user of the device.
 *
 * @param deviceFree      bytes free on the device before loading
 * @param deviceTotal     bytes of device memory in all
 * @param fraction        share of the device's memory (or of its free memory, see above) this model may use, in (0, 1]
 * @param weightBytes     device bytes of all weights
 * @param activationBytes device bytes of the scratch buffers for {@code maxBatchTokens}
 */
public record MemoryPlan(long deviceFree, long deviceTotal, double fraction, long weightBytes, long activationBytes) {

    public MemoryPlan {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("GPU memory fraction must be in (0, 1], got " + fraction);
        }
        if (deviceFree < 0 || deviceTotal < deviceFree) {
            throw new IllegalArgumentException("device memory: " + deviceFree + " bytes free of " + deviceTotal);
        }
    }

    /** Bytes in use on the device before this model was loaded (by this process's context and by others). */
    public long heldByOthers() {
        return deviceTotal - deviceFree;
    }

    /** Bytes left free beside a share of the total: room for what the driver allocates after the plan (graphs, modules). */
    public static long margin(long deviceTotal) {
        return Math.max(256L << 20, deviceTotal / 100);
    }

    /** True when the budget is {@code fraction} of the device's total; false when less than that was free. */
    public boolean shareOfTotal() {
        return (long) (deviceTotal * fraction) <= deviceFree - margin(deviceTotal);
    }

    /** Bytes this model may use. */
    public long budget() {
        return shareOfTotal() ? (long) (deviceTotal * fraction) : (long) (deviceFree * fraction);
    }

    /** "90% of the device's 139.80 GiB is 125.82 GiB" or "90% of the 13.50 GiB free is 12.15 GiB": the budget's origin. */
    private String share() {
        return shareOfTotal()
                ? String.format(Locale.ROOT, "%.0f%% of the device's %s is %s", fraction * 100, gib(deviceTotal), gib(budget()))
                : String.format(Locale.ROOT, "%.0f%% of the %s free is %s", fraction * 100, gib(deviceFree), gib(budget()));
    }

    /** Bytes left for the KV pool (negative when the weights and activations alone do not fit). */
    public long kvBytes() {
        return budget() - weightBytes - activationBytes;
    }

    /** Throws a clear error naming every quantity when the weights and activations do not fit. */
    public void requireFits(String model, String device) {
        if (kvBytes() <= 0) {
            // When most of the device is already taken, the fix is the other holder's (a second job's engine on this
            // TaskManager keeps its weights and KV cache until that job ends), not this model's fraction.
            String others = heldByOthers() * 2 > deviceTotal
                    ? String.format(Locale.ROOT, "; %s of the device's %s was in use before this load (another job's "
                            + "engine on this TaskManager, or another process: see nvidia-smi); give that one a smaller "
                            + "--gpu-memory-fraction or --kv-cache-memory", gib(heldByOthers()), gib(deviceTotal))
                    : "";
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "%s does not fit on %s: weights %s + activations %s = %s, but %s "
                            + "(raise --gpu-memory-fraction, lower --max-batched-tokens, or use a smaller quantization)%s",
                    model, device, gib(weightBytes), gib(activationBytes), gib(weightBytes + activationBytes), share(),
                    others));
        }
    }

    /**
     * One line for the load's log: the device's memory, what was free, this model's share, and its division, e.g.
     * "139.80 GiB, 139.26 GiB free at load (0.54 GiB in use: CUDA contexts, other jobs or processes); 90% of the
     * device's 139.80 GiB is 125.82 GiB for this model: weights 2.45 GiB, activations 0.61 GiB, KV cache room 122.76 GiB".
     */
    public String summary() {
        return String.format(Locale.ROOT, "%s, %s free at load (%s in use: CUDA contexts, other jobs or processes); "
                        + "%s for this model: weights %s, activations %s, KV cache room %s",
                gib(deviceTotal), gib(deviceFree), gib(heldByOthers()), share(), gib(weightBytes), gib(activationBytes),
                gib(Math.max(0, kvBytes())));
    }

    /** KV blocks of {@code blockSize} positions that fit in {@link #kvBytes()}. */
    public int kvBlocks(ModelConfig c, int blockSize, KvStore.Precision precision) {
        long perBlock = KvStore.bytesPerBlock(c.nLayers(), c.kvDim(), blockSize, precision);
        return (int) Math.min(Integer.MAX_VALUE, Math.max(0, kvBytes() / perBlock));
    }

    /** Device bytes of the per-step scratch buffers for a batch of {@code tokens} (all float, plus int metadata). */
    public static long activationBytes(ModelConfig c, int tokens) {
        long qDim = (long) c.nHeads() * c.headDim();
        // x, xb, q, att, k, v, gate, up, the logits and the logit candidates (topk_rows: k logits, k ids, max and sum)
        // (and for long rows the two-stage argmax / top-k scratch: k logits, k ids and 2 stats per chunk)
        long floatsPerToken = 2L * c.dim() + 2 * qDim + 2L * c.kvDim() + 2L * c.hiddenDim() + c.vocabSize()
                + (1L + LogitHead.chunks(c.vocabSize())) * (2L * io.inferstream.runtime.model.LogitCandidates.MAX_K + 2);
        long intsPerToken = 5;
        // plus the scratch of the decode kernels: the skinny products' activations and partial sums, the sliced
        // (prefill) products' 16-bit activations, and the split-context attention's partial outputs
        // a mixture of experts adds its router's probabilities and each chosen expert's activations and outputs
        long experts = c.block().experts() == null ? 0 : DeviceExpertFeedForward.bytes(c.block().experts(), c.dim(), tokens);
        return tokens * (floatsPerToken * 4 + intsPerToken * 4) + experts + SkinnyScratch.bytesFor(c)
                + SkinnyScratch.sliceHalvesBytes(c, tokens)
                + SplitAttention.scratchBytes(tokens, c.nHeads(), c.nKvHeads(), c.headDim());
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
