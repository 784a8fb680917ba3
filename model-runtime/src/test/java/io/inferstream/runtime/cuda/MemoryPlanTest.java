package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/** Device memory arithmetic, checked against sums written out by hand for a Llama-3.2-1B shape. */
class MemoryPlanTest {

    private static final long GIB = 1L << 30;
    // Llama-3.2-1B: dim 2048, FFN 8192, 16 layers, 32 heads, 8 KV heads of 64, vocab 128256
    private static final ModelConfig LLAMA_1B = new ModelConfig("llama", 2048, 8192, 16, 32, 8, 64, 128256, 131072,
            1e-5f, 500000f, false, null);

    @Test
    void activationsCountEveryScratchBufferOfTheBatch() {
        // per token: x, xb (2 x 2048) + q, att (2 x 2048) + k, v (2 x 512) + gate, up (2 x 8192) + logits 128256
        // + logit candidates (256 logits, 256 ids, max, sum) + the two-stage argmax / top-k scratch: the same for
        // each of the ceil(128256 / 4096) = 32 chunks of a row
        long floats = 2 * 2048 + 2 * 2048 + 2 * 512 + 2 * 8192 + 128256 + 2 * 256 + 2 + 32 * (2 * 256 + 2);
        // the skinny products' scratch: 16-bit activations of 64 tokens of the widest matrix (down, 8192 columns)
        // and the partial sums of the largest product: the output head, one split under every policy, 64 x 128256
        // floats (gate + up grouped: 2 x 4 splits x 64 x 8192 = 4.2 M floats; down: 16 x 64 x 2048 = 2.1 M)
        // (the activations twice: the staged copy of the gate/up product that reduces its own sums), and the
        // arrival counters of its largest group: gate + up, 2 x 8192 / 128 row blocks
        long skinny = 2 * 2L * 64 * 8192 + 4L * 64 * 128256 + 4L * 2 * 64;
        // split attention for up to 512 tokens: the most rows at 512 tokens (one split each): 512 x 32 heads, each
        // headDim floats of output and a (max, sum) pair
        long split = 512L * 32 * (4 * 64 + 8);
        // the sliced (prefill) products' 16-bit activations: 512 tokens of the widest input (down, 8192 columns), and
        // the Q4_K tensor-core product's block sums of them: a float per 32
        long sliced = 2L * 512 * 8192 + 4L * 512 * (8192 / 32);
        assertEquals(512 * (floats * 4 + 5 * 4) + skinny + split + sliced, MemoryPlan.activationBytes(LLAMA_1B, 512));
    }

    @Test
    void aMixtureOfExpertsAddsItsRoutingAndEachChosenExpertsActivations() {
        // Mixtral-8x7B: dim 4096, experts 14336 wide, 8 of them, 2 per token
        io.inferstream.runtime.model.Experts experts = new io.inferstream.runtime.model.Experts(8, 2, 14336, true, 1f, 0);
        ModelConfig dense = new ModelConfig("llama", 4096, 14336, 32, 32, 8, 128, 32000, 32768, 1e-5f, 1e6f, false, null);
        ModelConfig mixtral = new ModelConfig("llama", 4096, 14336, 32, 32, 8, 128, 32000, 32768, 1e-5f, 1e6f, false, null, 128,
                1f, 1f, io.inferstream.runtime.model.BlockOptions.LLAMA.withExperts(experts));
        // 512 tokens, 1024 slots: router probabilities [512, 8], chosen experts and their weights [1024] each, the slots
        // by expert [1024] and each expert's first slot [9]; each slot's SwiGLU activations [14336] and output [4096]
        long scratch = 4L * 512 * 8 + 4L * 2 * 1024 + 4L * 1024 + 4L * 9 + 4L * 1024 * (14336 + 4096);
        assertEquals(scratch, DeviceExpertFeedForward.bytes(experts, 4096, 512));
        assertEquals(MemoryPlan.activationBytes(dense, 512) + scratch, MemoryPlan.activationBytes(mixtral, 512));
        // Qwen2-MoE's shared expert (5632 wide) adds its gate and up [512, 5632] and its output [512, 4096]
        io.inferstream.runtime.model.Experts qwen = new io.inferstream.runtime.model.Experts(60, 4, 1408, false, 1f, 5632);
        assertEquals(4L * 512 * 60 + 4L * 3 * 2048 + 4L * 61 + 4L * 2048 * (1408 + 2048) + 4L * 512 * (2 * 5632 + 2048),
                DeviceExpertFeedForward.bytes(qwen, 2048, 512));
        // the experts' type on the device: 16-bit from 16-bit and F32, Q8_0 as it is, K-quants kept only when asked
        assertEquals(GgmlType.BF16, DeviceExperts.expertType(GgmlType.F32, false));
        assertEquals(GgmlType.BF16, DeviceExperts.expertType(GgmlType.BF16, true));
        assertEquals(GgmlType.F16, DeviceExperts.expertType(GgmlType.F16, true));
        assertEquals(GgmlType.Q8_0, DeviceExperts.expertType(GgmlType.Q8_0, false));
        assertEquals(GgmlType.Q4_K, DeviceExperts.expertType(GgmlType.Q4_K, true));
        assertEquals(GgmlType.F16, DeviceExperts.expertType(GgmlType.Q4_K, false));
        assertEquals(GgmlType.F16, DeviceExperts.expertType(GgmlType.Q5_K, true));
    }

    @Test
    void kvGetsWhatIsLeftOfTheFractionAfterWeightsAndActivations() {
        long weights = 2_471_000_000L;
        long acts = MemoryPlan.activationBytes(LLAMA_1B, 512);
        MemoryPlan plan = new MemoryPlan(100 * GIB, 100 * GIB, 0.5, weights, acts);
        assertEquals(50 * GIB, plan.budget());
        assertEquals(50 * GIB - weights - acts, plan.kvBytes());
        // one block of 16 positions, F16: 2 (K and V) x 16 layers x 512 x 16 x 2 bytes = 524288
        long perBlock = 2L * 16 * 512 * 16 * 2;
        assertEquals(perBlock, KvStore.bytesPerBlock(16, 512, 16, KvStore.Precision.F16));
        assertEquals((50 * GIB - weights - acts) / perBlock, plan.kvBlocks(LLAMA_1B, 16, KvStore.Precision.F16));
    }

    @Test
    void sharesOfTheDeviceDoNotDependOnTheOrderEnginesLoadIn() {
        // an H200-sized device whose CUDA context holds half a GiB; two jobs' engines at 0.45 each
        long total = 140 * GIB;
        long context = GIB / 2;
        MemoryPlan first = new MemoryPlan(total - context, total, 0.45, 3 * GIB, GIB);
        assertTrue(first.shareOfTotal());
        assertEquals(63 * GIB, first.budget());
        // the second loads beside the first's 63 GiB (or the first restarts beside the second's): 45 % too
        MemoryPlan second = new MemoryPlan(total - context - 63 * GIB, total, 0.45, 3 * GIB, GIB);
        assertTrue(second.shareOfTotal());
        assertEquals(63 * GIB, second.budget());
        // beside an engine at the default 0.9 less than 90 % of the device is free: 90 % of what is free
        MemoryPlan late = new MemoryPlan(total - context - 126 * GIB, total, 0.9, 3 * GIB, GIB);
        assertFalse(late.shareOfTotal());
        assertEquals((long) (13.5 * GIB * 0.9), late.budget());
        // a share of the total must leave the margin free (1 % of the device, at least 256 MiB); else the free share
        assertEquals(GIB * 14 / 10, MemoryPlan.margin(total));
        assertEquals(256L << 20, MemoryPlan.margin(8 * GIB));
        MemoryPlan tight = new MemoryPlan(50 * GIB + GIB / 2, 100 * GIB, 0.5, GIB, GIB);
        assertFalse(tight.shareOfTotal());
        assertEquals((long) ((50 * GIB + GIB / 2) * 0.5), tight.budget());
        // a fraction of 1 takes everything that is free, as it did before there was a share of the total
        assertEquals(total - context, new MemoryPlan(total - context, total, 1.0, GIB, GIB).budget());
    }

    @Test
    void aModelThatDoesNotFitFailsNamingWeightsActivationsAndTheBudget() {
        MemoryPlan plan = new MemoryPlan(4 * GIB, 6 * GIB, 0.5, 3 * GIB, GIB / 4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> plan.requireFits("m.gguf", "cuda:0 (L4)"));
        String msg = e.getMessage();
        assertTrue(msg.contains("m.gguf") && msg.contains("cuda:0 (L4)"), msg);
        assertTrue(msg.contains("weights 3.00 GiB") && msg.contains("activations 0.25 GiB"), msg);
        assertTrue(msg.contains("but 50% of the device's 6.00 GiB is 3.00 GiB"), msg);
        assertFalse(msg.contains("in use before this load"), msg); // 2 of 6 GiB held: not the cause
        assertEquals(0, plan.kvBlocks(LLAMA_1B, 16, KvStore.Precision.F16));
        new MemoryPlan(8 * GIB, 8 * GIB, 0.5, 3 * GIB, GIB / 4).requireFits("m.gguf", "cuda:0");
    }

    @Test
    void aModelThatDoesNotFitBesideAnotherEngineNamesWhatTheDeviceAlreadyHolds() {
        // a second job's engine on an H200 whose first job's engine took 90 % of it
        MemoryPlan plan = new MemoryPlan(14 * GIB, 140 * GIB, 0.9, 16 * GIB, GIB);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> plan.requireFits("llama-8b.gguf", "cuda:0"));
        String msg = e.getMessage();
        assertTrue(msg.contains("but 90% of the 14.00 GiB free is 12.60 GiB"), msg);
        assertTrue(msg.contains("126.00 GiB of the device's 140.00 GiB was in use before this load"), msg);
        assertTrue(msg.contains("another job's engine on this TaskManager"), msg);
        assertTrue(msg.contains("smaller --gpu-memory-fraction or --kv-cache-memory"), msg);
    }

    @Test
    void theSummaryGivesTheDeviceTheShareAndItsDivision() {
        MemoryPlan plan = new MemoryPlan(100 * GIB, 128 * GIB, 0.5, 3 * GIB, GIB / 4);
        assertEquals(28 * GIB, plan.heldByOthers());
        assertEquals("128.00 GiB, 100.00 GiB free at load (28.00 GiB in use: CUDA contexts, other jobs or processes); "
                + "50% of the device's 128.00 GiB is 64.00 GiB for this model: weights 3.00 GiB, activations 0.25 GiB, "
                + "KV cache room 60.75 GiB", plan.summary());
        assertEquals("128.00 GiB, 20.00 GiB free at load (108.00 GiB in use: CUDA contexts, other jobs or processes); "
                + "50% of the 20.00 GiB free is 10.00 GiB for this model: weights 3.00 GiB, activations 0.25 GiB, "
                + "KV cache room 6.75 GiB", new MemoryPlan(20 * GIB, 128 * GIB, 0.5, 3 * GIB, GIB / 4).summary());
        // a plan that does not fit shows no negative room
        assertTrue(new MemoryPlan(GIB, GIB, 0.5, GIB, 0).summary().endsWith("KV cache room 0.00 GiB"));
    }

    @Test
    void fractionOutsideZeroToOneIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan(GIB, GIB, 0, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan(GIB, GIB, 1.5, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan(2 * GIB, GIB, 0.5, 1, 1)); // more free than all
    }

    @Test
    void deviceBytesPerWeightType() {
        assertEquals(4L * 64 * 96, DeviceMatrix.deviceBytes(GgmlType.F32, false, false, 64, 96));
        assertEquals(2L * 64 * 96, DeviceMatrix.deviceBytes(GgmlType.F32, true, false, 64, 96));
        assertEquals(2L * 64 * 96, DeviceMatrix.deviceBytes(GgmlType.BF16, false, true, 64, 96));
        // Q8_0: one int8 per weight + one float scale per 32
        assertEquals(64L * 96 + 64L * 96 / 32 * 4, DeviceMatrix.deviceBytes(GgmlType.Q8_0, false, false, 64, 96));
        // K-quants decoded to F16, or kept: Q4_K a nibble per weight + (scale, min) floats per 32, Q6_K an int8 per
        // weight + a float scale per 16
        assertEquals(2L * 64 * 256, DeviceMatrix.deviceBytes(GgmlType.Q4_K, false, false, 64, 256));
        assertEquals(2L * 64 * 256, DeviceMatrix.deviceBytes(GgmlType.Q6_K, false, false, 64, 256));
        assertEquals(64L * 256 / 2 + 64L * 256 / 32 * 8, DeviceMatrix.deviceBytes(GgmlType.Q4_K, false, true, 64, 256));
        assertEquals(64L * 256 + 64L * 256 / 16 * 4, DeviceMatrix.deviceBytes(GgmlType.Q6_K, false, true, 64, 256));
        // other quantizations are always decoded
        assertEquals(2L * 64 * 256, DeviceMatrix.deviceBytes(GgmlType.Q4_0, false, true, 64, 256));
        assertEquals(GgmlType.F16, DeviceMatrix.deviceType(GgmlType.Q4_0, false, true));
        assertEquals(GgmlType.Q4_K, DeviceMatrix.deviceType(GgmlType.Q4_K, false, true));
    }

    @Test
    void kQuantsStayQuantizedOnlyWhenAskedOrWhenDecodedTheyWouldNotFit() {
        MemoryPlan fits = new MemoryPlan(8 * GIB, 8 * GIB, 0.5, 3 * GIB, GIB / 4);
        MemoryPlan tooBig = new MemoryPlan(8 * GIB, 8 * GIB, 0.5, 4 * GIB, GIB / 4);
        assertEquals(false, KQuantPolicy.AUTO.keeps(fits));
        assertEquals(true, KQuantPolicy.AUTO.keeps(tooBig));
        assertEquals(true, KQuantPolicy.NATIVE.keeps(fits));
        assertEquals(false, KQuantPolicy.F16.keeps(tooBig));
    }

    @Test
    void optionsRejectAFractionOutsideZeroToOneAndEmptySteps() {
        CudaLlamaModel.Options d = CudaLlamaModel.Options.defaults();
        assertEquals(0.9, d.memoryFraction());
        assertEquals(KQuantPolicy.AUTO, d.kQuants());
        CudaLlamaModel.Options o = d.withMemoryFraction(0.5).withMaxBatchTokens(2048).withKQuants(KQuantPolicy.NATIVE);
        assertEquals(0.5, o.memoryFraction());
        assertEquals(2048, o.maxBatchTokens());
        assertEquals(KQuantPolicy.NATIVE, o.kQuants());
        for (double bad : new double[] {0, -0.1, 1.01, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.withMemoryFraction(bad));
            assertTrue(e.getMessage().contains("GPU memory fraction"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> d.withMaxBatchTokens(0));
        assertThrows(IllegalArgumentException.class, () -> d.withKQuants(null));
    }
}
