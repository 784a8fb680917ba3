package io.inferstream.runtime.cuda;

import java.util.Locale;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/**
 * How a model's device memory is divided: of the memory free when the model is loaded, {@code fraction} is
 * ours; the weights and the activations of the largest batch come first and the KV pool gets the rest.
 * What is not free at load (total minus free) is held by this process's CUDA context and by every other user of the
 * device: another job's engine on the same TaskManager (each job loads its own), or another process.
 *
 * @param deviceFree      bytes free on the device before loading
 * @param deviceTotal     bytes of device memory in all
 * @param fraction        share of the free memory this model may use, in (0, 1]
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

    /** Bytes this model may use. */
    public long budget() {
        return (long) (deviceFree * fraction);
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
                    "%s does not fit on %s: weights %s + activations %s = %s, but %.0f%% of the %s free is %s "
                            + "(raise --gpu-memory-fraction, lower --max-batched-tokens, or use a smaller quantization)%s",
                    model, device, gib(weightBytes), gib(activationBytes), gib(weightBytes + activationBytes),
                    fraction * 100, gib(deviceFree), gib(budget()), others));
        }
    }

    /**
     * One line for the load's log: the device's memory, what was free, this model's share, and its division, e.g.
     * "139.80 GiB, 139.26 GiB free at load (0.54 GiB in use: CUDA contexts, other jobs or processes); 90% of the
     * free = 125.34 GiB for this model: weights 2.45 GiB, activations 0.61 GiB, KV cache room 122.28 GiB".
     */
    public String summary() {
        return String.format(Locale.ROOT, "%s, %s free at load (%s in use: CUDA contexts, other jobs or processes); "
                        + "%.0f%% of the free = %s for this model: weights %s, activations %s, KV cache room %s",
                gib(deviceTotal), gib(deviceFree), gib(heldByOthers()), fraction * 100, gib(budget()), gib(weightBytes),
                gib(activationBytes), gib(Math.max(0, kvBytes())));
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
                + (1L + CudaLlamaModel.headChunks(c.vocabSize())) * (2L * io.inferstream.runtime.model.LogitCandidates.MAX_K + 2);
        long intsPerToken = 5;
        // plus the scratch of the decode kernels: the skinny products' activations and partial sums, the sliced
        // (prefill) products' 16-bit activations, and the split-context attention's partial outputs
        return tokens * (floatsPerToken * 4 + intsPerToken * 4) + SkinnyScratch.bytesFor(c)
                + SkinnyScratch.sliceHalvesBytes(c, tokens)
                + SplitAttention.scratchBytes(tokens, c.nHeads(), c.nKvHeads(), c.headDim());
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
