package io.inferstream.runtime.cuda;

import java.util.Locale;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/**
 * How a model's device memory is divided: of the memory free when the model is loaded, {@code fraction} is
 * ours; the weights and the activations of the largest batch come first and the KV pool gets the rest.
 *
 * @param deviceFree      bytes free on the device before loading
 * @param fraction        share of the free memory this model may use, in (0, 1]
 * @param weightBytes     device bytes of all weights
 * @param activationBytes device bytes of the scratch buffers for {@code maxBatchTokens}
 */
public record MemoryPlan(long deviceFree, double fraction, long weightBytes, long activationBytes) {

    public MemoryPlan {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("GPU memory fraction must be in (0, 1], got " + fraction);
        }
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
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "%s does not fit on %s: weights %s + activations %s = %s, but %.0f%% of the %s free is %s "
                            + "(raise --gpu-memory-fraction, lower --max-batched-tokens, or use a smaller quantization)",
                    model, device, gib(weightBytes), gib(activationBytes), gib(weightBytes + activationBytes),
                    fraction * 100, gib(deviceFree), gib(budget())));
        }
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
