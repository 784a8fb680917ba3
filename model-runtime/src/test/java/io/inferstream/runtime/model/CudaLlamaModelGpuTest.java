package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.inferstream.runtime.checkpoint.GgufCheckpoint;
import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.CudaTestDevice;
import io.inferstream.runtime.cuda.KQuantPolicy;
import io.inferstream.runtime.generate.FinishReason;
import io.inferstream.runtime.generate.GenerationResult;
import io.inferstream.runtime.generate.Generator;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/**
 * The whole forward pass on the GPU against the CPU {@link LlamaModel} on the same GGUF: random tiny models
 * of each supported shape and weight type, steps that mix prefill chunks and decode tokens of several
 * sequences over shuffled KV blocks (so embedding, RMSNorm, RoPE normal/NeoX/llama3, biases, GQA, the KV
 * write and paged attention are all compared), and stories260K greedy decoding token for token.
 */
class CudaLlamaModelGpuTest {

    private static final int[][] SEQUENCES = {
            {1, 17, 250, 3, 99, 99, 42, 7, 288, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18},
            {1, 5, 6, 7, 8, 9, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137},
            {1, 200, 201, 202, 13, 13, 13, 77, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165},
    };

    /** Per step: for each sequence, how many of its next tokens are scheduled (0 = not in this step). */
    private static final int[][] SCHEDULE = {
            {12, 4, 0},  // two prefills (12 + 4 tokens: the batched, tensor-core product shape)
            {1, 1, 11},  // decode, decode, prefill of a newcomer
            {8, 1, 10},  // the rest of a prompt in a chunk, decode, the newcomer's last chunk
            {0, 0, 0},   // one decode token each (filled in below): the single-token product shape
    };

    private static CudaDevice device;

    @TempDir
    Path dir;

    @BeforeEach
    void open() {
        device = CudaTestDevice.require();
    }

    static Stream<Arguments> models() {
        RandomLlamaGguf.Spec llama = RandomLlamaGguf.Spec.llama(GgmlType.F32);
        return Stream.of(
                Arguments.of("llama F32, GQA 4/2", llama, KvStore.Precision.F32, 1e-4, false, false, false, "off", false),
                Arguments.of("llama F32, F16 KV", llama, KvStore.Precision.F16, 1e-3, false, false, false, "off", false),
                Arguments.of("qwen2 F32: NeoX RoPE, biases", llama.withArch("qwen2"), KvStore.Precision.F32, 1e-4, false, false, false, "off", false),
                Arguments.of("llama3 RoPE scaling, tied", llama.withLlama3(new ModelConfig.RopeScaling(8f, 1f, 4f, 64), 500000f)
                        .withTied(true), KvStore.Precision.F32, 1e-4, false, false, false, "off", false),
                Arguments.of("llama Q8_0", RandomLlamaGguf.Spec.llama(GgmlType.Q8_0), KvStore.Precision.F32, 1e-4, false, false, false, "off", false),
                // Q8_0 on tensor cores (matmul_stream_q8, and its 64-token slices): activations rounded to F16
                Arguments.of("llama Q8_0, tensor-core product", RandomLlamaGguf.Spec.llama(GgmlType.Q8_0), KvStore.Precision.F32,
                        1e-2, true, false, false, "q8", false),
                Arguments.of("llama Q8_0 256/512, tensor-core product", RandomLlamaGguf.Spec.llama(GgmlType.Q8_0)
                        .withShape(256, 512, 4, 2), KvStore.Precision.F16, 1e-2, true, false, false, "q8", false),
                Arguments.of("llama F16 (tensor cores)", RandomLlamaGguf.Spec.llama(GgmlType.F16), KvStore.Precision.F32, 1e-2, false, false, false, "off", false),
                Arguments.of("llama BF16 (tensor cores)", RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, false, false, false, "off", false),
                Arguments.of("llama BF16, skinny decode product", RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, false, false, "off", false),
                Arguments.of("llama F16, skinny decode product", RandomLlamaGguf.Spec.llama(GgmlType.F16), KvStore.Precision.F32, 1e-2, true, false, false, "off", false),
                Arguments.of("llama BF16, pipelined kernel + grouped Q/K/V and gate/up (SwiGLU) products",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "off", false),
                Arguments.of("llama F16, pipelined kernel + grouped Q/K/V and gate/up (SwiGLU) products",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16), KvStore.Precision.F32, 1e-2, true, true, false, "off", false),
                // dim 256, FFN 512: the deep split cuts K into 2-4 ranges where the default split has 1-2
                Arguments.of("llama BF16 256/512, pipelined kernel + grouped products, deep split-K",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2), KvStore.Precision.F16, 3e-2,
                        true, true, true, "off", false),
                Arguments.of("llama F16 256/512, pipelined kernel + grouped products, deep split-K",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16).withShape(256, 512, 4, 2), KvStore.Precision.F32, 1e-2,
                        true, true, true, "off", false),
                // matmul_stream (stream.cu) forced, with the grouped products: 8-token tiles, its own split-K (one split
                // writes y directly; FFN down of the 256/512 shape has two)
                Arguments.of("llama BF16, matmul_stream + grouped Q/K/V and gate/up (SwiGLU) products",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "stream", false),
                Arguments.of("llama F16 256/512, matmul_stream + grouped products",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16).withShape(256, 512, 4, 2), KvStore.Precision.F32, 1e-2,
                        true, true, false, "stream", false),
                // the deep split-K of matmul_stream (K ranges down to 128 columns): Wq/Wo/down of the 256/512 shape
                Arguments.of("llama BF16 256/512, matmul_stream + grouped products, deep split-K",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2), KvStore.Precision.F16, 3e-2,
                        true, true, true, "stream", false),
                Arguments.of("llama BF16 256/512, matmul_stream, separate products",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2), KvStore.Precision.F16, 3e-2,
                        true, false, false, "stream", false),
                Arguments.of("llama BF16 256/512, matmul_stream_wide (16-warp blocks) + grouped products",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2), KvStore.Precision.F16, 3e-2,
                        true, true, false, "wide", false),
                Arguments.of("llama Q4_K (decoded to F16 on upload)", RandomLlamaGguf.Spec.llama(GgmlType.Q4_K)
                        .withShape(256, 512, 4, 2), KvStore.Precision.F32, 5e-3, false, false, false, "off", false),
                // split-context attention (attention_split_*) and the vectorised norms forced on
                Arguments.of("llama F32, GQA 4/2, split attention + vectorised norms", llama, KvStore.Precision.F32, 1e-4,
                        false, false, false, "off", true),
                Arguments.of("llama F32, F16 KV, split attention", llama, KvStore.Precision.F16, 1e-3, false, false, false,
                        "off", true),
                Arguments.of("qwen2 F32: NeoX RoPE, biases, split attention", llama.withArch("qwen2"), KvStore.Precision.F32,
                        1e-4, false, false, false, "off", true),
                Arguments.of("llama F32 256/512, 8 heads / 2 KV heads of 32, split attention",
                        llama.withShape(256, 512, 8, 2), KvStore.Precision.F32, 1e-4, false, false, false, "off", true),
                Arguments.of("llama BF16, matmul_stream + grouped products, split attention",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "stream",
                        true),
                // FFN down of the 256/512 shape has two splits: its reduction runs fused into the next layer's norm
                // (add_rmsnorm_splitk_vec), as Wo and down do for Llama-3.2-1B
                Arguments.of("llama BF16 256/512, matmul_stream + vectorised norms: split-K reduction fused into the norm",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2), KvStore.Precision.F16, 3e-2,
                        true, true, false, "stream", true),
                // the products reducing their own sums (GroupEpilogue): Q/K/V with RoPE and the KV write, gate/up
                // with SwiGLU writing down's 16-bit activations while reading its own from the staged copy, Wo and down adding into x
                Arguments.of("llama BF16, matmul_stream + grouped products reducing their own sums",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "reduce",
                        true),
                Arguments.of("qwen2 F16 256/512: NeoX, biases, grouped products reducing their own sums, F32 KV",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16).withArch("qwen2").withShape(256, 512, 4, 2),
                        KvStore.Precision.F32, 1e-2, true, true, false, "reduce", true),
                // the same on warpgroup MMAs (the sm_90a module; on other devices the row checks that it is absent)
                Arguments.of("llama BF16, warpgroup MMAs (sm_90a), grouped products reducing their own sums",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "wgmma",
                        true),
                Arguments.of("qwen2 F16 256/512: NeoX, biases, warpgroup MMAs (sm_90a), F32 KV",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16).withArch("qwen2").withShape(256, 512, 4, 2),
                        KvStore.Precision.F32, 1e-2, true, true, false, "wgmma", true),
                // and launched programmatically (compute capability 9.x, a JVM with ProgrammaticLaunch.JVM_FLAGS: the
                // norms, attention and reductions from the compute_90 twins, the products waiting after their first
                // weight loads)
                Arguments.of("llama BF16, warpgroup MMAs, programmatic dependent launches",
                        RandomLlamaGguf.Spec.llama(GgmlType.BF16), KvStore.Precision.F16, 3e-2, true, true, false, "pdl",
                        true),
                Arguments.of("qwen2 F16 256/512: NeoX, biases, warpgroup MMAs, programmatic dependent launches, F32 KV",
                        RandomLlamaGguf.Spec.llama(GgmlType.F16).withArch("qwen2").withShape(256, 512, 4, 2),
                        KvStore.Precision.F32, 1e-2, true, true, false, "pdl", true));
    }

    /**
     * Two models at one --gpu-memory-fraction on one device (two jobs' engines on one TaskManager) get the same share
     * whichever loads first: the fraction is of the device's total, not of what the first one's KV pool left free.
     */
    @Test
    void twoModelsAtOneFractionGetTheSameShareOfTheDevice() {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F16), path);
        CudaLlamaModel.Options shared = CudaLlamaModel.Options.defaults().withMemoryFraction(0.4);
        try (GgufFile gguf = GgufFile.open(path); CudaLlamaModel first = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, shared)) {
            assertTrue(first.memoryPlan().shareOfTotal(), "the device should be nearly free for this test: "
                    + first.memoryPlan().summary());
            // the first engine's KV pool takes all the room its plan leaves, as an auto KV cache does
            int blocks = first.maxKvBlocks(16, KvStore.Precision.F16);
            try (io.inferstream.runtime.cuda.CudaKvStore pool = (io.inferstream.runtime.cuda.CudaKvStore)
                    first.newKvStore(blocks, 16, KvStore.Precision.F16);
                 CudaLlamaModel second = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, shared)) {
                long held = first.memoryPlan().deviceFree() - second.memoryPlan().deviceFree();
                assertTrue(held >= first.memoryPlan().budget() * 9 / 10, "the first model's weights and pool were held: "
                        + second.memoryPlan().summary());
                assertTrue(second.memoryPlan().shareOfTotal(), second.memoryPlan().summary());
                assertEquals(first.memoryPlan().budget(), second.memoryPlan().budget());
                assertEquals(first.memoryPlan().kvBytes(), second.memoryPlan().kvBytes());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void mixedBatchLogitsMatchTheCpuModel(String label, RandomLlamaGguf.Spec spec, KvStore.Precision precision, double bound,
                                          boolean skinny, boolean grouped, boolean deep, String stream, boolean split) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            LlamaModel cpu = LlamaModel.load(gguf);
            gpu.useSkinnyDecode(skinny);
            // forced, whatever the load-time timing chose: run 2's separate products, or the pipelined kernel with
            // the grouped Q/K/V and gate/up (SwiGLU) products
            gpu.usePipelinedSkinny(grouped);
            gpu.useGroupedSkinny(grouped);
            gpu.useDeepSplit(deep); // forced as well: the default split unless the row asks for the deep one
            boolean pdl = stream.equals("pdl"); // programmatic dependent launches (forced either way)
            boolean wgmma = stream.equals("wgmma") || pdl; // the streaming products on warpgroup MMAs (forced either way)
            if (wgmma && !gpu.wgmmaAvailable()) {
                assertTrue(!device.computeCapability().startsWith("9."), label + ": no sm_90a module on " + device);
                return; // nothing to compare on a device that cannot run wgmma
            }
            if (pdl && !gpu.programmaticLaunchAvailable()) {
                // on 9.x only a JVM without a foreign-function API may lack them (check.sh passes Java 17's flags)
                assertTrue(!io.inferstream.runtime.cuda.CudaKernels.programmaticJvm(),
                        label + ": programmatic launches unavailable on " + device + ": " + gpu.programmaticLaunchChoice());
                String reason = "SKIPPED " + label + ": " + gpu.programmaticLaunchChoice();
                System.out.println(reason);
                org.junit.jupiter.api.Assumptions.abort(reason);
            }
            if (gpu.programmaticLaunchAvailable()) {
                gpu.useProgrammaticLaunch(pdl);
            }
            gpu.usePackedStream(wgmma); // packed weights for the warpgroup MMAs (their own packing); else row-major
            if (gpu.wgmmaAvailable()) {
                gpu.useWgmma(wgmma);
            }
            boolean reduce = stream.equals("reduce") || wgmma; // the grouped products reduce their own sums (forced either way)
            boolean streaming = stream.equals("stream") || stream.equals("wide") || reduce;
            gpu.useStreamingSkinny(streaming); // matmul_stream only where the row asks for it (it takes precedence)
            gpu.useWideStream(stream.equals("wide"));
            gpu.useSmallStream(streaming); // and for the steps of 1..8 tokens (the last step has 3)
            if (skinny) {
                gpu.useQuantStream(stream.equals("q8")); // Q8_0 products of 9+ tokens on tensor cores, or not
            }
            gpu.useSplitAttention(split); // forced: the per-head kernel unless the row asks for the split one
            gpu.useTiledAttention(false); // and not the tiled one, whatever the load-time timing chose
            gpu.useTiledDecode(false);
            gpu.useVectorNorm(split);
            gpu.useFusedNorm(split && !stream.equals("off")); // the split-K reduction fused into the norm (forced either way)
            if (reduce) { // with everything it builds on: the fused Q/K/V reduction, the producers' 16-bit activations
                gpu.useFusedRope(true);
                gpu.useFusedHalves(true);
            }
            gpu.useProductReduction(reduce);
            assertScheduleMatches(label, cpu, gpu, precision, bound);
        }
    }

    /**
     * A Hugging Face folder (BF16 weights in two safetensors shards, NeoX RoPE as stored, Qwen2's biases, a tied
     * output) uploads the bytes its checkpoint maps, and gives the CPU model's logits in every step of the schedule.
     */
    @Test
    void aHuggingFaceFolderOnTheDeviceGivesTheCpuLogits() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2").withTied(true);
        RandomHfFolder.write(RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf")), dir.resolve("hf"),
                io.inferstream.runtime.safetensors.SafetensorsDtype.BF16, 2);
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(dir.resolve("hf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
            assertTrue(gpu.config().ropeNeox());
            assertScheduleMatches("Hugging Face BF16 qwen2", checkpoint.loadModel(), gpu, KvStore.Precision.F16, 3e-2);
        }
        // a Qwen2-MoE folder: the router in BF16 as the checkpoint has it (a product of 8 rows), the experts and the
        // shared expert from their own tensors
        RandomLlamaGguf.Spec moe = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2moe").withExperts(8, false).withTied(true);
        RandomHfFolder.write(RandomLlamaGguf.write(moe, dir.resolve("drawn-moe.gguf")), dir.resolve("hf-moe"),
                io.inferstream.runtime.safetensors.SafetensorsDtype.BF16, 2);
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(dir.resolve("hf-moe"));
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
            assertEquals(8, gpu.config().block().experts().count());
            assertScheduleMatches("Hugging Face BF16 qwen2moe", checkpoint.loadModel(), gpu, KvStore.Precision.F16, 3e-2);
        }
    }

    /**
     * Qwen3 on the device: every head of q and k RMS-normalized before RoPE (the fused RoPE epilogues step aside for
     * it), and heads wider than the model (q and the attention output twice the width of x), in every step.
     */
    @Test
    void aQwen3ModelWithQkNormOnTheDeviceGivesTheCpuLogits() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("qwen3").withTied(true).withHeadDim(32);
        Path path = dir.resolve("qwen3.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path); CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            assertTrue(gpu.config().qkNorm());
            assertTrue(!gpu.fusedRope(), gpu.fusedRopeChoice());
            assertScheduleMatches("qwen3 Q8_0", LlamaModel.load(gguf), gpu, KvStore.Precision.F16, 3e-2);
        }
    }

    /**
     * Phi-3.5-mini on the device: Q, K, V, gate and up uploaded as rows of the fused tensors, LongRoPE's factors as RoPE
     * frequencies and its magnitude factor on cos and sin; with the short factors and, opened for a longer context,
     * the long ones; and with a sliding window in every layer that the positions reach (Phi-3-mini-4k's).
     */
    @Test
    void aPhi3ModelOnTheDeviceGivesTheCpuLogitsWithEitherFactors() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("phi3").withShape(64, 96, 4, 4);
        Path path = dir.resolve("phi3.gguf");
        // Phi-3.5-mini's window: wider than any context it has
        RandomLlamaGguf.write(spec, path, w -> w.putUInt32("phi3.attention.sliding_window", 262144));
        for (int context : new int[] {0, spec.context()}) {
            try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(path, context);
                 CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
                assertEquals(RandomLlamaGguf.PHI3_ATTN_FACTOR, gpu.config().ropeAttentionFactor());
                assertEquals(context == 0 ? spec.context() / 2 : spec.context(), gpu.config().contextLength());
                assertScheduleMatches("phi3 Q8_0, context " + gpu.config().contextLength(), checkpoint.loadModel(), gpu,
                        KvStore.Precision.F16, 5e-3);
            }
        }
        // Phi-3-mini-4k's window (every layer's): the schedule's 22 positions reach past its 6; heads of 64, so that
        // prefill chunks take the tiled attention where it is on
        Path windowed = dir.resolve("phi3-window.gguf");
        RandomLlamaGguf.write(spec.withShape(256, 384, 4, 2), windowed);
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(windowed);
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
            assertEquals(RandomLlamaGguf.SLIDING_WINDOW, gpu.config().block().window().size());
            for (KvStore.Precision precision : KvStore.Precision.values()) {
                assertScheduleMatches("phi3 Q8_0, a window of " + RandomLlamaGguf.SLIDING_WINDOW + ", " + precision + " KV",
                        checkpoint.loadModel(), gpu, precision, 5e-3);
            }
        }
    }

    /**
     * Phi-4-mini on the device: RoPE over the first 12 of each head's 16 dimensions (Phi-4-mini: 96 of 128, NeoX pairs
     * half the rotated width apart), the rest left as they are, with LongRoPE's magnitude on the rotated pairs only.
     */
    @Test
    void aPhi4MiniModelTurnsPartOfEachHeadOnTheDevice() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("phi3").withShape(64, 96, 4, 4)
                .withRopeDim(12);
        Path path = dir.resolve("phi4-mini.gguf");
        RandomLlamaGguf.write(spec, path, w -> w.putUInt32("phi3.attention.sliding_window", 262144));
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
            assertEquals(12, gpu.config().ropeDim());
            assertEquals(16, gpu.config().headDim());
            assertScheduleMatches("phi3 Q8_0, RoPE over 12 of 16", checkpoint.loadModel(), gpu, KvStore.Precision.F16, 5e-3);
        }
    }

    /**
     * Gemma on the device: Gemma 1's scaled embedding and GeGLU; Gemma 2's post-norms, soft caps on the scores and the
     * logits, and every other layer sliding; Gemma 3's QK-norm, query_pre_attn_scalar, five sliding layers in six (a
     * window of 6, which the schedule's 22 positions pass) turning RoPE with their own base, and the global layers' base
     * of 1e6 with positions divided by the linear factor. Heads of 64, so that prefill chunks take the tiled attention
     * where it is on.
     */
    @Test
    void gemmaModelsOnTheDeviceGiveTheCpuLogits() {
        RandomLlamaGguf.Spec gemma = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("gemma").withShape(128, 192, 2, 1)
                .withTied(true);
        RandomLlamaGguf.Spec gemma2 = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("gemma2").withShape(128, 192, 2, 1)
                .withTied(true);
        RandomLlamaGguf.Spec gemma3 = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("gemma3").withShape(128, 192, 2, 1)
                .withLayers(6).withTheta(1e6f).withTied(true).withEps(1e-6f);
        for (RandomLlamaGguf.Spec spec : List.of(gemma, gemma2, gemma3)) {
            Path path = dir.resolve(spec.arch() + ".gguf");
            RandomLlamaGguf.write(spec, path);
            try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(path);
                 CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
                assertEquals(64, gpu.config().headDim());
                assertTrue(gpu.config().block().geluFeedForward() && gpu.config().block().embeddingScale() > 1f);
                if (spec == gemma2) { // caps small enough to bind on these weights; every other layer slides
                    assertEquals(RandomLlamaGguf.GEMMA2_ATTN_CAP, gpu.config().block().attentionSoftcap());
                    assertEquals(RandomLlamaGguf.GEMMA2_FINAL_CAP, gpu.config().block().finalSoftcap());
                    assertEquals(2, gpu.config().block().window().period());
                }
                if (spec == gemma3) {
                    assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 6, 10000f), gpu.config().block().window());
                    assertEquals(RandomLlamaGguf.GEMMA3_LINEAR, gpu.config().ropeLinearFactor());
                    assertTrue(gpu.config().block().postNorms() && gpu.config().qkNorm());
                }
                for (KvStore.Precision precision : KvStore.Precision.values()) {
                    // ~1e-4 with the tensor-core attention of prefill chunks (F16 Q and P), ~1e-6 without
                    assertScheduleMatches(spec.arch() + " Q8_0, " + precision + " KV", checkpoint.loadModel(), gpu, precision,
                            2e-3);
                }
            }
        }
    }

    /**
     * IBM Granite 3 on the device: the embedding, residual and attention multipliers and the logits divided by
     * logit_scale. A Granite mixture of experts is refused, naming --device cpu.
     */
    @Test
    void aGraniteModelOnTheDeviceGivesTheCpuLogits() {
        Path path = dir.resolve("granite.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("granite").withShape(256, 384, 4, 2)
                .withTied(true), path);
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults())) {
            assertEquals(RandomLlamaGguf.GRANITE_RESIDUAL_SCALE, gpu.config().block().residualScale());
            assertEquals(RandomLlamaGguf.GRANITE_LOGIT_SCALE, gpu.config().block().logitScale());
            assertScheduleMatches("granite Q8_0", checkpoint.loadModel(), gpu, KvStore.Precision.F16, 2e-3);
        }
    }

    /**
     * Mixtures of experts on the device (experts.cu: the router's softmax and top-k, the slots grouped by expert, each
     * expert over the tokens that chose it, the weighted sum) give the CPU model's logits in every step of the mixed
     * schedule: Mixtral's block (llama with 8 experts, 2 per token, renormalized) in F16, and with 4 experts in BF16
     * (an expert then serves more than one 8-token pass of a prefill step); Qwen2-MoE (the full softmax's
     * probabilities, a shared expert behind a sigmoid gate, biases); Granite MoE (renormalized, the residual and logit
     * scales) with Q8_0 experts, which the device keeps as the CPU's quants and scales; Qwen3-MoE and Mixtral with
     * K-quant experts kept as their planes ({@code NATIVE}) or decoded to F16 ({@code AUTO}, where they fit), the Q4_K
     * ones with down in Q6_K as in a Q4_K_M file (each role its own type on the device). BF16's
     * bound is looser: the products around the experts read 16-bit activations, which BF16 rounds 8 times as coarsely
     * as F16. The dense products' quantized tensor-core path (F16 activations) is pinned off, as a mixture's load
     * leaves it, so that the quantized rows compare the experts' own arithmetic. The experts' products are pinned
     * either way, whatever the load-time trial chose: the {@code off} rows on CUDA cores, the {@code on} rows on the
     * tensor-core kernels (moe_mma: 64-slot tiles, here one short tile per expert, the inputs rounded to 16
     * bits, quantized weights decoded to F16 as the tiles load, so that row's bound is F16's; emulate.sh checks
     * several tiles per expert, and the Q6_K and Q4_K planes, against a double product: a K-quant row here would take
     * half a minute on the emulator).
     */
    @ParameterizedTest(name = "{0} {1}, {2} experts, K-quants {3}, tensor cores {4}")
    @org.junit.jupiter.params.provider.CsvSource({"llama, F16, 8, AUTO, off, 2e-3", "llama, BF16, 4, AUTO, off, 1e-2",
            "qwen2moe, F16, 8, AUTO, off, 2e-3", "granitemoe, Q8_0, 8, AUTO, off, 5e-4", "qwen3moe, Q4_K, 8, NATIVE, off, 5e-4",
            "llama, Q6_K, 8, NATIVE, off, 5e-4", "llama, Q4_K, 8, AUTO, off, 2e-3",
            "llama, F16, 8, AUTO, on, 2e-3", "llama, BF16, 4, AUTO, on, 1e-2", "granitemoe, Q8_0, 8, AUTO, on, 5e-4"})
    void mixturesOfExpertsOnTheDeviceGiveTheCpuLogits(String arch, GgmlType type, int experts, KQuantPolicy kQuants,
                                                     String tensorCores, double bound) {
        Path path = dir.resolve(arch + "-moe.gguf");
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(type).withArch(arch).withExperts(experts, false)
                .withTied(!arch.equals("llama"));
        boolean kQuant = type == GgmlType.Q4_K || type == GgmlType.Q6_K;
        if (type == GgmlType.Q4_K) { // as llama-quantize's Q4_K_M: the experts' down in Q6_K (K-quants: rows of 256)
            RandomLlamaGguf.writeWithDownExperts(spec.withShape(256, 512, 4, 2), path, GgmlType.Q6_K);
        } else {
            RandomLlamaGguf.write(kQuant ? spec.withShape(256, 512, 4, 2) : spec, path);
        }
        try (io.inferstream.runtime.checkpoint.Checkpoint checkpoint = io.inferstream.runtime.checkpoint.Checkpoint.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(checkpoint, device, CudaLlamaModel.Options.defaults().withKQuants(kQuants))) {
            LlamaModel cpu = checkpoint.loadModel();
            assertEquals(experts, gpu.config().block().experts().count());
            assertEquals(arch.equals("qwen2moe"), cpu.weights().experts()[0].hasShared());
            if (kQuant) {
                String choice = gpu.kernelChoices().get("Q4_K / Q6_K weights");
                assertTrue(choice.startsWith(kQuants == KQuantPolicy.NATIVE ? "kept as Q4_K / Q6_K" : "decoded to F16"), choice);
            }
            gpu.useQuantStream(false);
            gpu.useExpertTensorCores(tensorCores.equals("on")); // whatever the load-time trial chose
            String choice = gpu.kernelChoices().get("experts' products");
            assertTrue(choice.startsWith(tensorCores.equals("on") ? "tensor cores (moe_mma) in every step" : "CUDA cores in every step"),
                    choice);
            double err = assertScheduleMatches(arch + " " + type + " mixture", cpu, gpu, KvStore.Precision.F16, bound);
            System.out.printf("%s %s, %d experts, K-quants %s, tensor cores %s: largest relative error %.2g (bound %.0g)%n", arch,
                    type, experts, kQuants, tensorCores, err, bound);
        }
    }

    /**
     * Runs the mixed schedule on both models, each step's logits within {@code bound} (relative) of the CPU's; returns
     * the largest error.
     */
    private static double assertScheduleMatches(String label, LlamaModel cpu, CudaLlamaModel gpu, KvStore.Precision precision,
                                              double bound) {
        int bs = 4;
        int blocksPerSeq = 6; // 24 positions: the schedule uses at most 22 of a sequence
        int numBlocks = SEQUENCES.length * blocksPerSeq + 3;
        KvStore cpuKv = cpu.newKvStore(numBlocks, bs, precision);
        KvStore gpuKv = gpu.newKvStore(numBlocks, bs, precision);
        // shuffled physical blocks: sequence s owns blocks 3 + s + 3k (not in position order of memory)
        int[][] tables = new int[SEQUENCES.length][blocksPerSeq];
        for (int s = 0; s < SEQUENCES.length; s++) {
            for (int b = 0; b < blocksPerSeq; b++) {
                tables[s][b] = numBlocks - 1 - (s + SEQUENCES.length * b);
            }
        }
        int[] done = new int[SEQUENCES.length];
        double worst = 0;
        for (int step = 0; step < SCHEDULE.length; step++) {
            int[] counts = step == SCHEDULE.length - 1 ? new int[] {1, 1, 1} : SCHEDULE[step];
            TokenBatch batch = batch(counts, done, tables);
            float[] expected = cpu.forward(batch, cpuKv);
            float[] got = gpu.forward(batch, gpuKv);
            assertEquals(expected.length, got.length);
            double err = CudaTestDevice.relativeError(got, expected, got.length);
            assertTrue(err <= bound, label + " step " + step + " (" + batch.size() + " tokens): relative error "
                    + err + " > " + bound);
            worst = Math.max(worst, err);
            for (int s = 0; s < counts.length; s++) {
                done[s] += counts[s];
            }
        }
        return worst;
    }

    /**
     * Q4_K and Q6_K weights kept quantized on the device (KQuantPolicy.NATIVE: the CPU's planes, read by
     * the matvec, tiled and embedding kernels) give the CPU model's logits in every step of the mixed schedule: the
     * device decodes each weight to the CPU's float bits, so only the summation order differs. With Q4_K's tensor-core
     * product on, the activations of steps of 9+ tokens go through F16 (a looser bound).
     */
    @ParameterizedTest(name = "{0}, tensor cores for 9+ tokens: {1}")
    @org.junit.jupiter.params.provider.CsvSource({"Q4_K, false, 1e-4", "Q6_K, false, 1e-4", "Q4_K, true, 1e-2", "Q6_K, true, 1e-2"})
    void kQuantWeightsKeptQuantizedGiveTheCpuLogits(GgmlType type, boolean tensorCores, double bound) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(type).withShape(256, 512, 4, 2), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device,
                     CudaLlamaModel.Options.defaults().withKQuants(KQuantPolicy.NATIVE))) {
            String choice = gpu.kernelChoices().get("Q4_K / Q6_K weights");
            assertTrue(choice.startsWith("kept as Q4_K / Q6_K"), choice);
            // forced either way: the planes' CUDA-core kernels (the CPU's weight bits, float activations), or the
            // tensor-core products for the steps of 9+ tokens (matmul_stream_q4_k / _q6_k, F16 activations)
            gpu.useQuantStream(tensorCores);
            gpu.useTiledAttention(false); // the attention as the load did not time it: F32 KV, the decode kernels
            gpu.useTiledDecode(false);
            assertScheduleMatches(type + " kept quantized", LlamaModel.load(gguf), gpu, KvStore.Precision.F32, bound);
        }
    }

    /**
     * The fused epilogues give bit for bit the logits of the separate kernels, in every step of the schedule (the
     * 16-bit activations written by the norms and the SwiGLU reduction, {@link CudaLlamaModel#useFusedHalves}; the
     * Q/K/V reduction with biases, RoPE and the KV write, {@link CudaLlamaModel#useFusedRope}), with the split-K
     * reduction fused into the norm or not, for llama and for qwen2 (NeoX pairs, biases), and in the 3-token last step
     * (matmul_stream for small steps: the output head reads the final norm's halves). The fused run also prefetches
     * weights into L2 before each attention (l2_prefetch, {@link CudaLlamaModel#useL2Prefetch}) and its streaming
     * products read packed copies of the weights ({@link CudaLlamaModel#usePackedStream}) with 32 rows per warp
     * ({@link CudaLlamaModel#useTallStream}), which must change nothing either.
     */
    @ParameterizedTest(name = "{0} {1} weights, {2} KV, split-K reduction in the norm: {3}")
    @org.junit.jupiter.params.provider.CsvSource({
        "llama, BF16, F16, false", "llama, BF16, F32, true", "llama, F16, F16, true", "qwen2, BF16, F16, false",
        "qwen2, F16, F32, true"})
    void fusedEpiloguesGiveTheLogitsOfTheSeparateKernels(String arch, GgmlType type, KvStore.Precision precision,
                                                         boolean fuseNorm) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(type).withShape(256, 512, 4, 2).withArch(arch), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            gpu.useSkinnyDecode(true);
            gpu.useStreamingSkinny(true);
            gpu.useWideStream(false);
            gpu.useGroupedSkinny(true);
            gpu.useSmallStream(true);
            gpu.useSplitAttention(true);
            gpu.useTiledAttention(false); // the split kernel's 16-bit copy is what the fused path under test reads
            gpu.useTiledDecode(false);
            gpu.useVectorNorm(true);
            gpu.useFusedNorm(fuseNorm);
            int bs = 4;
            int blocksPerSeq = 6;
            int numBlocks = SEQUENCES.length * blocksPerSeq;
            int[][] tables = new int[SEQUENCES.length][blocksPerSeq];
            for (int s = 0; s < SEQUENCES.length; s++) {
                for (int b = 0; b < blocksPerSeq; b++) {
                    tables[s][b] = s * blocksPerSeq + b;
                }
            }
            float[][][] logits = new float[2][SCHEDULE.length][];
            for (int v = 0; v < 2; v++) {
                gpu.useFusedHalves(v == 1);
                gpu.useFusedRope(v == 1);
                gpu.useL2Prefetch(v == 1 ? 300_000 : 0); // Wo (128 KiB) whole, gate and up in part; not a multiple of 64
                gpu.usePackedStream(v == 1);
                gpu.useTallStream(v == 1);
                gpu.tallStreamMinBlocks(1); // this model's products are far smaller than an SM each
                assertEquals(v == 1, gpu.packedStream());
                // the 16- and 19-token steps take the fused path only with it on (a test that compares a path with itself
                // would prove nothing)
                assertEquals(v == 1, gpu.producersWriteHalves(16), "fused 16-bit activations for 16 tokens");
                assertEquals(v == 1, gpu.fusedRope());
                KvStore kv = gpu.newKvStore(numBlocks, bs, precision);
                int[] done = new int[SEQUENCES.length];
                for (int step = 0; step < SCHEDULE.length; step++) {
                    int[] counts = step == SCHEDULE.length - 1 ? new int[] {1, 1, 1} : SCHEDULE[step];
                    logits[v][step] = gpu.forward(batch(counts, done, tables), kv);
                    for (int s = 0; s < counts.length; s++) {
                        done[s] += counts[s];
                    }
                }
            }
            for (int step = 0; step < SCHEDULE.length; step++) {
                assertArrayEquals(logits[0][step], logits[1][step], "step " + step);
            }
        }
    }

    @Test
    void deviceGreedyEqualsTheArgmaxOfTheLogitsAndCopiedBlocksMatch() {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            int bs = 4;
            KvStore kv = gpu.newKvStore(16, bs, KvStore.Precision.F32);
            int[] prompt = SEQUENCES[0];
            int n = 8;
            int[] pos = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i;
            }
            int[] rows = {3, 7};
            TokenBatch prefill = new TokenBatch(Arrays.copyOf(prompt, n), pos, new int[n], new int[][] {{5, 2, 9}}, rows);
            float[] logits = gpu.forward(prefill, kv);
            int[] greedy = gpu.forwardGreedy(prefill, kv);
            int vocab = gpu.config().vocabSize();
            for (int r = 0; r < rows.length; r++) {
                int best = 0;
                for (int i = 1; i < vocab; i++) {
                    if (logits[r * vocab + i] > logits[r * vocab + best]) {
                        best = i;
                    }
                }
                assertEquals(best, greedy[r], "row " + r);
            }
            // Copy-on-write of the prompt's blocks: decoding over the copies gives the same logits.
            kv.copyBlock(5, 11);
            kv.copyBlock(2, 12);
            TokenBatch next = new TokenBatch(new int[] {prompt[n]}, new int[] {n}, new int[1], new int[][] {{5, 2, 9}}, new int[] {0});
            TokenBatch nextOnCopies = new TokenBatch(new int[] {prompt[n]}, new int[] {n}, new int[1], new int[][] {{11, 12, 13}}, new int[] {0});
            float[] a = gpu.forward(next, kv);
            float[] b = gpu.forward(nextOnCopies, kv);
            assertArrayEquals(a, b);
            assertThrows(IllegalArgumentException.class, () -> gpu.forward(new TokenBatch(new int[] {1}, new int[] {4},
                    new int[1], new int[][] {{5}}, new int[] {0}), kv));
        }
    }

    /**
     * forwardCandidates (topk_rows after the step; decode steps replayed as a CUDA graph, prefill steps eager) returns
     * the CPU candidates of the very logits the device computed (its full rows, fetched after the step), for k from
     * 1 to 256 (vocabulary 300); those rows are forward()'s logits of the same batch, and are refused once another
     * step ran.
     */
    @ParameterizedTest(name = "vocabulary {0}")
    @ValueSource(ints = {300, 9001})
    void deviceCandidatesAreTheCpuCandidatesOfTheDeviceLogits(int vocabulary) {
        // 9001: three chunks of the two-stage argmax / top-k (the last of 809 logits), as Llama's 128256 gets 32
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32).withVocab(vocabulary), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            KvStore kv = gpu.newKvStore(16, 4, KvStore.Precision.F32);
            int n = 8;
            int[] pos = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i;
            }
            int[][] tables = {{5, 2, 9}};
            TokenBatch prefill = new TokenBatch(Arrays.copyOf(SEQUENCES[0], n), pos, new int[n], tables, new int[] {3, 5, 7});
            TokenBatch decode = new TokenBatch(new int[] {SEQUENCES[0][n]}, new int[] {n}, new int[1], tables, new int[] {0});
            int vocab = gpu.config().vocabSize();
            gpu.forward(prefill, kv);
            for (TokenBatch batch : new TokenBatch[] {prefill, decode}) {
                int rows = batch.logitRows().length;
                float[] logits = gpu.forward(batch, kv); // rewrites the same keys and values
                for (boolean graphs : new boolean[] {false, true}) {
                    gpu.useCudaGraphs(graphs);
                    for (int k : new int[] {1, 2, 7, 64, 256}) {
                        LogitCandidates got = gpu.forwardCandidates(batch, kv, k);
                        float[] full = new float[rows * vocab];
                        for (int r = 0; r < rows; r++) {
                            System.arraycopy(got.fullRow(r), 0, full, r * vocab, vocab);
                        }
                        LogitCandidates want = LogitCandidates.of(full, rows, vocab, k);
                        String what = batch.size() + " tokens, k=" + k + (graphs ? ", graphs on" : ", eager");
                        assertArrayEquals(want.ids(), got.ids(), what + " ids");
                        assertArrayEquals(want.logits(), got.logits(), what + " logits");
                        assertArrayEquals(want.max(), got.max(), what + " max");
                        assertArrayEquals(want.logSumExp(), got.logSumExp(), 1e-5, what + " log-sum-exp");
                        assertArrayEquals(logits, full, 1e-4f, what + ": the rows are forward()'s logits");
                        if (batch == decode) { // the greedy head on the same logits: argmax_rows, or argmax_chunks + merge
                            assertEquals(firstMax(Arrays.copyOf(full, vocab)), gpu.forwardGreedy(batch, kv)[0], what + ": device argmax");
                        }
                        gpu.forward(batch, kv);
                        assertThrows(IllegalStateException.class, () -> got.fullRow(0), "rows of an older step");
                    }
                }
            }
            assertEquals(null, gpu.graphFailure());
            assertEquals(10, gpu.graphLaunches(), "graphs on: the decode step ran as a graph for each of the five k and its greedy "
                    + "step, the prefill step eagerly");
        }
    }

    private static int firstMax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * A first load as on a GPU machine, every kernel choice made by its trial (unless a -Dinferstream.cuda.* property
     * forces it): no trial fails. A trial that throws keeps the proven kernel and says "failed at
     * load" in kernelChoices(), which would otherwise hide a broken new path behind a working old one. A 16-bit model
     * of 256/512 with a vocabulary of 512, so that the streaming products' trials (packing, grouped reductions into the residual, warpgroup
     * MMAs and programmatic launches on 9.x) run too. Steps of up to 128 tokens: the prefill trials (64-token slices,
     * the tiled attention's chunk) still run, at a quarter of the default's 512 (the emulated driver runs them too).
     * Then a BF16 mixture of experts, whose trial times its expert block on CUDA cores and on tensor cores.
     */
    @Test
    void everyLoadTimeTrialRunsWithoutFailing() {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.BF16).withShape(256, 512, 4, 2).withVocab(512), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device,
                     CudaLlamaModel.Options.defaults().withMaxBatchTokens(128))) {
            java.util.Map<String, String> choices = gpu.kernelChoices();
            choices.forEach((what, why) -> System.out.println("choice: " + what + ": " + why));
            assertTrue(choices.size() >= 10, choices.toString());
            choices.forEach((what, why) -> assertTrue(!why.contains("failed at load"), what + ": " + why));
        }
        // a mixture's own trial: its expert block both ways at 4, 8 and 16 slots per expert (steps of 16 to 64 tokens)
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.BF16).withExperts(8, false), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device,
                     CudaLlamaModel.Options.defaults().withMaxBatchTokens(64))) {
            String choice = gpu.kernelChoices().get("experts' products");
            System.out.println("choice: experts' products: " + choice);
            assertTrue(choice.contains("by slots per expert: 4 (16 tokens): ") && choice.contains(", 16 (64 tokens): ")
                    && !choice.contains("DIFFER") && !choice.contains("failed at load"), choice);
        }
    }

    /**
     * Decode steps replayed as one recorded CUDA graph give the eager steps' tokens: a dense model, and a mixture of
     * experts, whose routing and grouping the graph's kernels find in device memory at each replay.
     */
    @Test
    void greedyStepsReplayedAsCudaGraphsEqualEagerSteps() {
        assertGraphReplaysEqualEagerSteps(RandomLlamaGguf.Spec.llama(GgmlType.F32));
        assertGraphReplaysEqualEagerSteps(RandomLlamaGguf.Spec.llama(GgmlType.F16).withExperts(8, false));
    }

    private void assertGraphReplaysEqualEagerSteps(RandomLlamaGguf.Spec spec) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            int[][] tables = {{0, 1, 2, 3}, {4, 5, 6, 7}};
            int[][] tokens = new int[2][];
            for (int run = 0; run < 2; run++) {
                KvStore kv = gpu.newKvStore(8, 4, KvStore.Precision.F32);
                gpu.useCudaGraphs(false);
                // prefill: 8 tokens of sequence 0 and 5 of sequence 1
                int[] tok = new int[13];
                int[] pos = new int[13];
                int[] seq = new int[13];
                for (int i = 0; i < 13; i++) {
                    seq[i] = i < 8 ? 0 : 1;
                    pos[i] = i < 8 ? i : i - 8;
                    tok[i] = SEQUENCES[seq[i]][pos[i]];
                }
                int[] next = gpu.forwardGreedy(new TokenBatch(tok, pos, seq, tables, new int[] {7, 12}), kv);
                gpu.useCudaGraphs(run == 1);
                int[] generated = new int[12];
                for (int step = 0; step < 6; step++) {
                    next = gpu.forwardGreedy(new TokenBatch(next, new int[] {8 + step, 5 + step}, new int[] {0, 1}, tables,
                            new int[] {0, 1}), kv);
                    generated[2 * step] = next[0];
                    generated[2 * step + 1] = next[1];
                }
                tokens[run] = generated;
            }
            assertEquals(null, gpu.graphFailure());
            assertEquals(6, gpu.graphLaunches(), "all six decode steps replayed one recorded graph");
            assertArrayEquals(tokens[0], tokens[1], "graph replay vs eager launches");
        }
    }

    @Test
    void stories260KGreedyIsTokenIdenticalToTheCpuBackendAndLlama2c() throws IOException {
        stories260KGreedy(false);
    }

    /** The same with the split-context attention and vectorised norms forced (200 positions: up to 7 splits). */
    @Test
    void stories260KGreedyWithSplitAttentionIsTokenIdenticalToTheCpuBackendAndLlama2c() throws IOException {
        stories260KGreedy(true);
    }

    private void stories260KGreedy(boolean split) throws IOException {
        int[] expectedIds;
        try (InputStream in = getClass().getResourceAsStream("/reference/stories260K-greedy-200.txt")) {
            String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            expectedIds = Arrays.stream(all.substring(0, all.indexOf('\n')).trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        }
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            if (split) {
                gpu.useSplitAttention(true);
                gpu.useVectorNorm(true);
            }
            Tokenizer tokenizer = Tokenizers.fromGguf(gguf);
            SamplingParams params = SamplingParams.greedy(200).withStopTokens(List.of(tokenizer.bos()));
            int[] prompt = {tokenizer.bos()};
            GenerationResult onGpu = new Generator(gpu, tokenizer).generate(prompt, params, s -> { });
            GenerationResult onCpu = new Generator(LlamaModel.load(gguf), tokenizer).generate(prompt, params, s -> { });
            assertArrayEquals(onCpu.tokens(), onGpu.tokens(), "GPU and CPU greedy tokens");
            int[] generated = onGpu.tokens();
            if (onGpu.finishReason() == FinishReason.STOP && generated[generated.length - 1] == tokenizer.bos()) {
                generated = Arrays.copyOf(generated, generated.length - 1);
            }
            assertArrayEquals(Arrays.copyOfRange(expectedIds, 1, expectedIds.length), generated, "llama2.c run.c reference");
        }
    }

    /**
     * Two sequences decoded for 180 steps with the split-context attention forced (contexts past 32 positions use
     * several splits and the combine kernel), fed the CPU model's greedy tokens: the GPU logits of every step match
     * the CPU's, and so do the greedy tokens.
     */
    @ParameterizedTest(name = "{0} KV")
    @MethodSource("kvPrecisions")
    void longDecodeWithSplitAttentionMatchesTheCpuModel(KvStore.Precision precision, double bound) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            LlamaModel cpu = LlamaModel.load(gguf);
            gpu.useSplitAttention(true);
            gpu.useVectorNorm(true);
            int bs = 16;
            int steps = 180;
            int blocks = (steps + 2 + bs - 1) / bs;
            KvStore cpuKv = cpu.newKvStore(2 * blocks, bs, precision);
            KvStore gpuKv = gpu.newKvStore(2 * blocks, bs, precision);
            int[][] tables = new int[2][blocks];
            for (int b = 0; b < blocks; b++) {
                tables[0][b] = 2 * b + 1;
                tables[1][b] = 2 * blocks - 2 - 2 * b;
            }
            int[] tokens = {SEQUENCES[0][1], SEQUENCES[1][1]};
            int vocab = gpu.config().vocabSize();
            for (int step = 0; step < steps; step++) {
                // sequence 1 starts 7 steps late, so the two contexts differ in length (and in split count)
                boolean both = step >= 7;
                TokenBatch batch = both
                        ? new TokenBatch(tokens.clone(), new int[] {step, step - 7}, new int[] {0, 1}, tables, new int[] {0, 1})
                        : new TokenBatch(new int[] {tokens[0]}, new int[] {step}, new int[] {0}, tables, new int[] {0});
                float[] expected = cpu.forward(batch, cpuKv);
                float[] got = gpu.forward(batch, gpuKv);
                double err = CudaTestDevice.relativeError(got, expected, got.length);
                assertTrue(err <= bound, "step " + step + ": relative error " + err + " > " + bound);
                for (int r = 0; r < batch.size(); r++) {
                    int best = 0;
                    for (int i = 1; i < vocab; i++) {
                        if (expected[r * vocab + i] > expected[r * vocab + best]) {
                            best = i;
                        }
                    }
                    tokens[both ? r : 0] = best;
                }
            }
        }
    }

    static Stream<Arguments> kvPrecisions() {
        return Stream.of(Arguments.of(KvStore.Precision.F32, 1e-4), Arguments.of(KvStore.Precision.F16, 1e-3));
    }

    /**
     * Prefill steps of more than 64 tokens (three sequences of 70, 55 and 29 prompt tokens in one 154-token step, then
     * a 130-token step continuing two of them next to a decode token) and two decode steps, with the products of more
     * than 64 tokens as 64-token slices of matmul_stream_slices and with the tiled WMMA kernel, on row-major and on
     * packed weights (with 32-row warps), with the attention tiled (attention_tiled) in no step, in the prefill steps
     * (the first two, which have runs of 16+ tokens) or in all four: every step's logits against the CPU model.
     */
    @ParameterizedTest(name = "{0} weights, sliced products: {1}, packed: {2}, tiled attention: {4}")
    @org.junit.jupiter.params.provider.CsvSource({
        "BF16, true, false, 3e-2, off", "BF16, true, true, 3e-2, off", "BF16, false, false, 3e-2, off",
        "F16, true, true, 1e-2, off", "BF16, true, true, 3e-2, prefill", "F16, false, false, 1e-2, all"})
    void longPrefillStepsMatchTheCpuModelBothWays(GgmlType type, boolean sliced, boolean packed, double bound,
                                                  String tiled) {
        Path path = dir.resolve("m.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(type).withShape(256, 512, 4, 2), path);
        try (GgufFile gguf = GgufFile.open(path);
             CudaLlamaModel gpu = CudaLlamaModel.load(GgufCheckpoint.of(gguf), device, CudaLlamaModel.Options.defaults())) {
            LlamaModel cpu = LlamaModel.load(gguf);
            gpu.useSkinnyDecode(true);
            gpu.useStreamingSkinny(true);
            gpu.usePackedStream(packed);
            gpu.useTallStream(packed); // packed rows: 32-row warps as well, on every product of this small model
            gpu.tallStreamMinBlocks(1);
            gpu.useSlicedPrefill(sliced);
            assertEquals(sliced, gpu.slicedPrefill());
            gpu.useTiledAttention(!tiled.equals("off")); // head 64, groups of 2: the tiled kernel serves this shape
            gpu.useTiledDecode(tiled.equals("all"));
            long tiledBefore = gpu.tiledAttentionSteps();
            int vocab = gpu.config().vocabSize();
            int[] lengths = {70 + 60 + 2, 55 + 70 + 2, 29 + 1 + 2};
            int bs = 16;
            int blocksPerSeq = 9;
            int[][] tables = new int[3][blocksPerSeq];
            for (int s = 0; s < 3; s++) {
                for (int b = 0; b < blocksPerSeq; b++) {
                    tables[s][b] = (2 - s) * blocksPerSeq + b; // later sequences in lower blocks
                }
            }
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(67);
            int[][] prompts = new int[3][];
            for (int s = 0; s < 3; s++) {
                prompts[s] = rnd.ints(lengths[s], 1, vocab).toArray();
            }
            KvStore cpuKv = cpu.newKvStore(3 * blocksPerSeq, bs, KvStore.Precision.F16);
            KvStore gpuKv = gpu.newKvStore(3 * blocksPerSeq, bs, KvStore.Precision.F16);
            int[][] schedule = {{70, 55, 29}, {60, 70, 1}, {1, 1, 1}, {1, 1, 1}};
            int[] done = new int[3];
            for (int step = 0; step < schedule.length; step++) {
                int n = Arrays.stream(schedule[step]).sum();
                int[] tokens = new int[n];
                int[] pos = new int[n];
                int[] seq = new int[n];
                int[] rows = new int[3];
                int t = 0;
                for (int s = 0; s < 3; s++) {
                    for (int i = 0; i < schedule[step][s]; i++) {
                        tokens[t] = prompts[s][done[s] + i];
                        pos[t] = done[s] + i;
                        seq[t] = s;
                        t++;
                    }
                    rows[s] = t - 1;
                    done[s] += schedule[step][s];
                }
                TokenBatch batch = new TokenBatch(tokens, pos, seq, tables, rows);
                float[] expected = cpu.forward(batch, cpuKv);
                float[] got = gpu.forward(batch, gpuKv);
                double err = CudaTestDevice.relativeError(got, expected, got.length);
                assertTrue(err <= bound, "step " + step + " (" + n + " tokens): relative error " + err + " > " + bound);
            }
            assertEquals(tiled.equals("off") ? 0 : tiled.equals("prefill") ? 2 : 4, gpu.tiledAttentionSteps() - tiledBefore,
                    "steps that ran the tiled attention");
        }
    }

    private static TokenBatch batch(int[] counts, int[] done, int[][] tables) {
        int n = Arrays.stream(counts).sum();
        int[] tokens = new int[n];
        int[] pos = new int[n];
        int[] seq = new int[n];
        int scheduled = (int) Arrays.stream(counts).filter(c -> c > 0).count();
        int[] rows = new int[scheduled];
        int t = 0;
        int r = 0;
        for (int s = 0; s < counts.length; s++) {
            for (int i = 0; i < counts[s]; i++) {
                tokens[t] = SEQUENCES[s][done[s] + i];
                pos[t] = done[s] + i;
                seq[t] = s;
                t++;
            }
            if (counts[s] > 0) {
                rows[r++] = t - 1;
            }
        }
        return new TokenBatch(tokens, pos, seq, tables, rows);
    }
}
