package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufTensorInfo;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.safetensors.SafetensorsDtype;
import io.inferstream.runtime.tensor.Matrix;

/** Every logit of a full forward pass of tiny random GGUF models against the float64 {@link ReferenceTransformer}. */
class LlamaModelReferenceTest {

    private static final int[] TOKENS = {1, 17, 250, 3, 99, 99, 42, 7, 288, 150, 64, 5, 2, 31, 200, 123, 9, 270, 11, 0};

    @TempDir
    Path dir;

    private int folders;

    @Test
    void f32LlamaWithGroupedQueryAttentionAndSeparateOutputMatchesReference() {
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32), 1e-4);
    }

    @Test
    void f32LlamaWithTiedOutputAndOneKvHeadMatchesReference() {
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withTied(true).withShape(64, 96, 4, 1).withEps(1e-6f), 1e-4);
    }

    @Test
    void threeQueryHeadsPerKvHeadMatchReference() {
        // SmolLM2's grouping (9 heads over 3 KV heads): attention takes the three-head kernels and, over a whole
        // prompt, runs of tokens; head size 32, so the weighted sum's four-vector passes run too
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(192, 96, 6, 2), 1e-4);
    }

    @Test
    void qwen2WithAttentionBiasesAndNeoxRopeMatchesReference() {
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2").withShape(64, 96, 4, 2), 1e-4);
    }

    @Test
    void qwen3WithQkNormAndHeadsWiderThanTheWidthMatchesReference() {
        // Qwen3-0.6B's proportions: 16 heads of 128 over a width of 1024, so q is twice as wide as x and Wo narrows it
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3").withShape(64, 96, 4, 2)
                .withHeadDim(32).withTied(true).withEps(1e-6f);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            ModelConfig c = LlamaModel.load(gguf).config();
            assertTrue(c.qkNorm() && c.ropeNeox(), c.toString());
            assertEquals(32, c.headDim());
        }
    }

    @Test
    void qwen3Q8_0WeightsMatchReferenceOverDequantizedWeights() {
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("qwen3").withShape(64, 96, 4, 2).withHeadDim(32), 1e-4);
    }

    @Test
    void llama3RopeScalingMatchesReference() {
        // head dim 16, theta 1e4: wavelengths 6.3 (kept), 19.9 (smoothed between 8 and 32) and > 32 (divided by 8)
        ModelConfig.RopeScaling scaling = new ModelConfig.RopeScaling(8f, 1f, 4f, 32);
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withLlama3(scaling, 10000f);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            assertEquals(scaling, LlamaModel.load(gguf).config().ropeScaling());
        }
    }

    @Test
    void llama3ScalingStoredAsRopeFreqsTensorMatchesReference() {
        ModelConfig.RopeScaling scaling = new ModelConfig.RopeScaling(8f, 1f, 4f, 32);
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withLlama3(scaling, 10000f).withRopeFreqsTensor();
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            assertEquals(null, LlamaModel.load(gguf).config().ropeScaling());
            assertTrue(gguf.hasTensor("rope_freqs.weight"));
        }
    }

    @Test
    void llamaGgufWithConverterPermutedQkMatchesHuggingFaceRotateHalf() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withHfPermutedQk();
        RandomLlamaGguf written = RandomLlamaGguf.write(spec, dir.resolve("hf.gguf"));
        Function<String, double[]> hfWeights = name -> toDouble(written.weights.get(name));
        double[][] expected = new ReferenceTransformer(spec, hfWeights, true).forward(TOKENS);
        try (GgufFile gguf = GgufFile.open(dir.resolve("hf.gguf"))) {
            assertClose(expected, logitsAtEveryPosition(LlamaModel.load(gguf), TOKENS), 1e-4);
        }
    }

    @Test
    void q8_0WeightsMatchReferenceOverDequantizedWeights() {
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0), 1e-4);
    }

    @Test
    void q4_KWeightsMatchReferenceOverDequantizedWeights() {
        // K-quants come in blocks of 256 along a row: every matrix needs 256 columns
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q4_K).withShape(256, 256, 4, 2), 1e-4);
    }

    @Test
    void q5_KQ5_0Q5_1AndQ4_1WeightsMatchReferenceOverDequantizedWeights() {
        // Q5_K_M files mix Q5_K with Q6_K; Q4_K_M files fall back to Q5_0 / Q5_1 where a width is not whole K-blocks
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q5_K).withShape(256, 256, 4, 2), 1e-4);
        for (GgmlType type : new GgmlType[] {GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_1}) {
            assertMatchesReference(RandomLlamaGguf.Spec.llama(type).withArch("qwen2"), 1e-4);
        }
    }

    @Test
    void q2_KQ3_KIq4_XsAndIq4_NlWeightsMatchReferenceOverDequantizedWeights() {
        // Q2_K and Q3_K_M files mix them with Q4_K..Q6_K; IQ4_NL is their fallback where a width is not whole K-blocks
        for (GgmlType type : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_XS}) {
            assertMatchesReference(RandomLlamaGguf.Spec.llama(type).withShape(256, 256, 4, 2), 1e-4);
        }
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.IQ4_NL).withArch("qwen2"), 1e-4);
    }

    @Test
    void phi3WithFusedTensorsLongRopeAndSlidingWindowMatchesReference() {
        // Phi-3.5-mini: whole heads turn; Phi-4-mini: GQA, 96 of 128 dimensions (here 24 of 32), a tied output
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3").withShape(64, 96, 4, 4), 1e-4);
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("phi3").withHeadDim(32).withRopeDim(24)
                .withTied(true), 1e-4);
        Path path = dir.resolve("phi3.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3"), path);
        try (GgufFile gguf = GgufFile.open(path)) {
            ModelConfig c = LlamaModel.config(gguf);
            assertEquals(128, c.contextLength(), "the original context of LongRoPE's short factors");
            assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 0, c.ropeTheta()), c.block().window(),
                    "every layer sees the last positions of its sliding window only");
            assertEquals(RandomLlamaGguf.PHI3_ATTN_FACTOR, c.ropeAttentionFactor());
            assertTrue(c.ropeNeox());
            LlamaModel model = LlamaModel.load(gguf);
            assertEquals("blk.1.attn_qkv.weight[64..96)", model.weights().wk()[1].name());
            assertEquals("blk.0.ffn_up.weight[0..96)", model.weights().gate()[0].name());
            assertViewsAreHandedOutAsTheirRows(io.inferstream.runtime.checkpoint.GgufCheckpoint.of(gguf), model);
        }
    }

    /** What a GPU uploads: the checkpoint hands out the bytes of a fused tensor's rows that a view reads. */
    private static void assertViewsAreHandedOutAsTheirRows(Checkpoint checkpoint, LlamaModel model) {
        LlamaWeights w = model.weights();
        for (Matrix view : new Matrix[] {w.wq()[0], w.wk()[1], w.wv()[0], w.gate()[1], w.up()[1]}) {
            assertTrue(RowView.parse(view.name()) != null, view.name());
            Matrix uploaded = Matrix.of(view.type(), checkpoint.tensorData(view.name()), view.rows(), view.cols(), "bytes");
            for (int r : new int[] {0, view.rows() - 1}) {
                float[] expected = new float[view.cols()];
                float[] actual = new float[view.cols()];
                view.dequantizeRow(r, expected, 0);
                uploaded.dequantizeRow(r, actual, 0);
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual, view.name() + " row " + r);
            }
        }
    }

    @Test
    void phi3AskedForMoreThanItsOriginalContextTurnsWithTheLongFactorsAtEveryPosition() {
        // llama.cpp chooses LongRoPE's factors by its context size: here the original context is 128 of the file's 256
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3").withShape(64, 96, 4, 4);
        Path path = dir.resolve("phi3-long.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path)) {
            Function<String, double[]> tensors = phi3Parts(dequantized(gguf), spec);
            double[][] longFactors = new ReferenceTransformer(spec, tensors, true, true).forward(TOKENS);
            double[][] shortFactors = new ReferenceTransformer(spec, tensors, true, false).forward(TOKENS);
            Checkpoint file = io.inferstream.runtime.checkpoint.GgufCheckpoint.of(gguf);
            Checkpoint longer = file.withContext(200);
            assertEquals(200, longer.config().contextLength());
            float[][] logits = logitsAtEveryPosition(longer.loadModel(), TOKENS);
            assertClose(longFactors, logits, 1e-4);
            assertTrue(relativeError(shortFactors, logits) > 1e-2, "the short factors give other logits: "
                    + relativeError(shortFactors, logits));
            assertEquals(RandomLlamaGguf.PHI3_ATTN_FACTOR, longer.config().ropeAttentionFactor(), "the same magnitude either way");
            // no more than it was trained for; the original context or less keeps the short factors
            assertEquals(256, file.withContext(1 << 20).config().contextLength());
            assertEquals(128, file.withContext(128).config().contextLength());
            assertEquals(128, file.withContext(0).config().contextLength());
            assertClose(shortFactors, logitsAtEveryPosition(file.withContext(128).loadModel(), TOKENS), 1e-4);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> file.withContext(-1));
        }
        // a model without LongRoPE keeps its context whatever is asked
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32), dir.resolve("llama.gguf"));
        try (Checkpoint llama = Checkpoint.open(dir.resolve("llama.gguf"))) {
            assertEquals(256, llama.withContext(100).config().contextLength());
            assertEquals(256, llama.withContext(4096).config().contextLength());
        }
    }

    @Test
    void huggingFacePhi3FolderAskedForALongContextTurnsWithItsLongFactors() {
        // Phi-3.5-mini's config: 4096 original positions of 131072
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3").withShape(64, 96, 4, 4);
        RandomLlamaGguf drawn = RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf"));
        Path hf = dir.resolve("hf-long");
        RandomHfFolder folder = RandomHfFolder.write(drawn, hf, SafetensorsDtype.F32, 1);
        double[][] expected = new ReferenceTransformer(spec, folder.stored::get, true, true).forward(TOKENS);
        try (Checkpoint checkpoint = Checkpoint.open(hf)) {
            assertEquals(4096, checkpoint.config().contextLength());
            Checkpoint longer = checkpoint.withContext(16384);
            assertEquals(16384, longer.config().contextLength());
            LlamaModel model = longer.loadModel();
            assertClose(expected, logitsAtEveryPosition(model, TOKENS), 1e-4);
            assertViewsAreHandedOutAsTheirRows(longer, model);
            assertEquals(131072, checkpoint.withContext(1 << 20).config().contextLength());
            assertEquals(RandomLlamaGguf.PHI3_ATTN_FACTOR, longer.config().ropeAttentionFactor(), 1e-6f);
        }
    }

    @Test
    void aContextOfSeveralAttentionSegmentsMatchesReference() {
        // positions past AttentionSegments.SPAN attend in parts, merged; every position's logits against float64
        int[] tokens = new int[AttentionSegments.SPAN + 300];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(300);
        }
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(64, 96, 4, 1);
        Path path = dir.resolve("long.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path)) {
            double[][] expected = new ReferenceTransformer(spec, dequantized(gguf), false).forward(tokens);
            assertClose(expected, logitsAtEveryPosition(LlamaModel.load(gguf), tokens), 1e-4);
        }
    }

    @Test
    void mixtralStyleMixtureOfExpertsMatchesReference() {
        // llama.cpp's Mixtral: general.architecture llama with expert_count; 4 experts, 2 per token, renormalized
        RandomLlamaGguf.Spec mixtral = RandomLlamaGguf.Spec.llama(GgmlType.F32).withExperts(4, false);
        assertMatchesReference(mixtral, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            LlamaModel model = LlamaModel.load(gguf);
            assertEquals(new Experts(4, 2, 96, true, 1f, 0), model.config().block().experts());
            assertEquals(null, model.weights().gate(), "a mixture has no dense feed-forward");
            assertEquals("blk.1.ffn_down_exps.weight[3]", model.weights().experts()[1].down()[3].name());
        }
        // Q8_0, each expert in tensors of its own as early Mixtral GGUFs store them
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withExperts(4, true), 1e-4);
    }

    @Test
    void qwen3MoeWithQkNormAndExpertWidthOfItsOwnMatchesReference() {
        // Qwen3-MoE: 8 experts, QK-norm, NeoX RoPE; feed_forward_length (288 here) is not the experts' width (96)
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3moe").withHeadDim(32)
                .withExperts(8, false).withTied(true);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            ModelConfig c = LlamaModel.config(gguf);
            assertTrue(c.qkNorm() && c.ropeNeox(), c.toString());
            assertEquals(288, c.hiddenDim());
            assertEquals(96, c.block().experts().hidden());
        }
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q4_K).withArch("qwen3moe").withShape(256, 256, 4, 2)
                .withExperts(4, false), 1e-4);
    }

    @Test
    void qwen2MoeWithGatedSharedExpertUnnormalizedWeightsAndBiasesMatchesReference() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2moe").withExperts(4, false);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            assertEquals(new Experts(4, 2, 96, false, 1f, RandomLlamaGguf.SHARED_HIDDEN), LlamaModel.config(gguf).block().experts());
        }
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("qwen2moe").withExperts(4, false).withTied(true), 1e-4);
    }

    @Test
    void graniteScalesAndGraniteMoeMatchReference() {
        // IBM Granite 3: embedding, residual and attention multipliers, logits divided; Granite MoE adds 8 experts
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("granite").withTied(true), 1e-4);
        RandomLlamaGguf.Spec moe = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("granitemoe").withExperts(8, false)
                .withTied(true);
        assertMatchesReference(moe, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            ModelConfig c = LlamaModel.config(gguf);
            assertTrue(!c.ropeNeox() && c.block().experts() != null, c.toString());
            assertEquals(RandomLlamaGguf.GRANITE_LOGIT_SCALE, c.block().logitScale());
        }
    }

    @Test
    void aMixtureWithTooManyExpertsUsedOrMisshapenExpertsFailsNamingTheKeyOrTensor() throws Exception {
        Path path = dir.resolve("bad.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3moe").withExperts(4, false), path);
        byte[] bytes = java.nio.file.Files.readAllBytes(path);
        // the experts' width in the metadata disagrees with their tensors: the merged tensor and both shapes are named
        Path narrow = dir.resolve("narrow.gguf");
        java.nio.file.Files.write(narrow, patchUInt32(bytes.clone(), "qwen3moe.expert_feed_forward_length", 64));
        try (GgufFile gguf = GgufFile.open(narrow)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> LlamaModel.load(gguf));
            assertTrue(e.getMessage().contains("narrow.gguf") && e.getMessage().contains("blk.0.ffn_gate_exps.weight")
                    && e.getMessage().contains("[64, 96, 4]") && e.getMessage().contains("expected [64, 64, 4]"), e.getMessage());
        }
        Path tooMany = dir.resolve("used.gguf");
        java.nio.file.Files.write(tooMany, patchUInt32(bytes, "qwen3moe.expert_used_count", 5));
        try (GgufFile gguf = GgufFile.open(tooMany)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> LlamaModel.config(gguf));
            assertTrue(e.getMessage().contains("used.gguf") && e.getMessage().contains("expert_used_count")
                    && e.getMessage().contains("5 used"), e.getMessage());
        }
    }

    /** The file with the uint32 value of metadata key {@code key} replaced (the key's bytes, its type, then the value). */
    private static byte[] patchUInt32(byte[] file, String key, int value) {
        byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i + k.length + 8 <= file.length; i++) {
            if (java.util.Arrays.equals(file, i, i + k.length, k, 0, k.length)) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(file).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                assertEquals(4, b.getInt(i + k.length), "uint32 type of " + key);
                b.putInt(i + k.length + 4, value);
                return file;
            }
        }
        throw new AssertionError(key + " not in the file");
    }

    @Test
    void gemmaWithScaledEmbeddingAndGegluMatchesReference() {
        // Gemma 7B's proportions: heads wider than width / heads (16 of 256 over 3072); every Gemma ties its output
        assertMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma").withHeadDim(32).withTied(true)
                .withEps(1e-6f), 1e-4);
    }

    @Test
    void gemma2WithSoftCapsPostNormsAndSlidingEvenLayersMatchesReference() {
        // layer 0 sees the last 6 of the 20 positions, layer 1 all of them; both caps bind on these weights
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma2").withTied(true);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            BlockOptions b = LlamaModel.config(gguf).block();
            assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 2, spec.theta()), b.window());
            assertEquals(RandomLlamaGguf.GEMMA2_ATTN_CAP, b.attentionSoftcap());
            assertEquals(RandomLlamaGguf.GEMMA2_FINAL_CAP, b.finalSoftcap());
            assertEquals((float) Math.sqrt(spec.dim()), b.embeddingScale());
        }
    }

    @Test
    void gemma3WithQkNormSlidingLayersAndLinearlyScaledGlobalRopeMatchesReference() {
        // six layers: five slide with RoPE base 10000, the sixth sees everything with base 1e6 and positions / 4
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.Q8_0).withArch("gemma3").withShape(64, 96, 4, 1)
                .withHeadDim(32).withLayers(6).withTheta(1e6f).withTied(true).withEps(1e-6f);
        assertMatchesReference(spec, 1e-4);
        try (GgufFile gguf = GgufFile.open(dir.resolve("model.gguf"))) {
            ModelConfig c = LlamaModel.config(gguf);
            assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 6, 10000f), c.block().window());
            assertEquals(RandomLlamaGguf.GEMMA3_LINEAR, c.ropeLinearFactor());
            assertTrue(c.qkNorm() && c.block().postNorms() && c.block().geluFeedForward(), c.toString());
        }
    }

    @Test
    void gemmaLargestModelsScaleAttentionByWidthPerHead() {
        // 1/sqrt(query_pre_attn_scalar): dim / heads for the 27B models (Gemma 2: 46 layers, Gemma 3: 62), llama.cpp's
        // rule; the head size for the others
        String[][] cases = {{"gemma2", "46", "24"}, {"gemma3", "62", "24"}, {"gemma3", "26", "32"}, {"gemma2", "42", "32"}};
        for (String[] c : cases) {
            Path path = dir.resolve(c[0] + "-" + c[1] + ".gguf");
            new io.inferstream.runtime.gguf.GgufWriter()
                    .putString("general.architecture", c[0])
                    .putUInt32(c[0] + ".embedding_length", 96)
                    .putUInt32(c[0] + ".feed_forward_length", 128)
                    .putUInt32(c[0] + ".block_count", Integer.parseInt(c[1]))
                    .putUInt32(c[0] + ".attention.head_count", 4)
                    .putUInt32(c[0] + ".attention.key_length", 32)
                    .putUInt32(c[0] + ".attention.value_length", 32)
                    .addTensor("token_embd.weight", new float[10 * 96], 96, 10)
                    .write(path);
            try (GgufFile gguf = GgufFile.open(path)) {
                ModelConfig config = LlamaModel.config(gguf);
                assertEquals((float) (1 / Math.sqrt(Integer.parseInt(c[2]))), config.block().attentionScale(config.headDim()),
                        c[0] + " with " + c[1] + " layers");
                assertEquals(null, config.block().window(), "no sliding_window key: every layer global");
            }
        }
    }

    @Test
    void phi3FusedTensorsOfTheWrongHeightFailNamingTheTensor() {
        // 4 heads of 16 need 64 + 2·64 rows of attn_qkv; this one has 100
        Path bad = dir.resolve("bad-phi3.gguf");
        new io.inferstream.runtime.gguf.GgufWriter()
                .putString("general.architecture", "phi3")
                .putUInt32("phi3.embedding_length", 64)
                .putUInt32("phi3.feed_forward_length", 96)
                .putUInt32("phi3.block_count", 1)
                .putUInt32("phi3.attention.head_count", 4)
                .addTensor("token_embd.weight", new float[10 * 64], 64, 10)
                .addTensor("blk.0.attn_norm.weight", new float[64], 64)
                .addTensor("blk.0.attn_qkv.weight", new float[100 * 64], 64, 100)
                .write(bad);
        try (GgufFile gguf = GgufFile.open(bad)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> LlamaModel.load(gguf));
            assertTrue(e.getMessage().contains("bad-phi3.gguf") && e.getMessage().contains("blk.0.attn_qkv.weight")
                    && e.getMessage().contains("expected [64, 192]"), e.getMessage());
        }
    }

    @Test
    void huggingFaceBf16LlamaFolderWithLlama3ScalingMatchesReference() {
        ModelConfig.RopeScaling scaling = new ModelConfig.RopeScaling(8f, 1f, 4f, 32);
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withLlama3(scaling, 10000f);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.BF16, 1);
        assertEquals(scaling, config.ropeScaling());
        assertTrue(config.ropeNeox(), "transformers' checkpoints rotate halves");
    }

    @Test
    void huggingFaceQwen2FolderWithBiasesTiedEmbeddingAndShardsMatchesReference() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2").withTied(true)
                .withShape(64, 96, 4, 2);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.F16, 3);
        assertEquals("qwen2", config.architecture());
        assertEquals(spec.context(), config.contextLength(), "use_sliding_window false: the window does not cap the context");
    }

    @Test
    void huggingFaceMixtralAndQwenMoeFoldersMatchReference() {
        // MixtralForCausalLM: block_sparse_moe.gate and experts.E.w1/w3/w2, always renormalized
        ModelConfig mixtral = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withExperts(4, false),
                SafetensorsDtype.BF16, 2);
        assertEquals(new Experts(4, 2, 96, true, 1f, 0), mixtral.block().experts());
        // Qwen3MoeForCausalLM: mlp.gate and mlp.experts.E.*_proj, QK-norm, norm_topk_prob true; moe_intermediate_size wide
        ModelConfig qwen3 = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3moe")
                .withHeadDim(32).withExperts(8, false), SafetensorsDtype.F32, 1);
        assertEquals("qwen3moe", qwen3.architecture());
        assertEquals(96, qwen3.block().experts().hidden());
        // Qwen2MoeForCausalLM: biases, the shared expert behind its sigmoid gate of shape [1, hidden], not renormalized
        ModelConfig qwen2 = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen2moe")
                .withExperts(4, false).withTied(true), SafetensorsDtype.F16, 1);
        assertEquals(new Experts(4, 2, 96, false, 1f, RandomLlamaGguf.SHARED_HIDDEN), qwen2.block().experts());
    }

    @Test
    void huggingFaceGraniteAndGraniteMoeFoldersMatchReference() {
        // GraniteForCausalLM's multipliers; GraniteMoeForCausalLM's router.layer and fused input_linear / output_linear
        ModelConfig dense = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("granite"),
                SafetensorsDtype.F32, 1);
        assertEquals(RandomLlamaGguf.GRANITE_RESIDUAL_SCALE, dense.block().residualScale());
        ModelConfig moe = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("granitemoe")
                .withExperts(8, false).withTied(true), SafetensorsDtype.BF16, 2);
        assertEquals(new Experts(8, 2, 96, true, 1f, 0), moe.block().experts());
        assertEquals("granitemoe", moe.architecture());
    }

    @Test
    void huggingFaceQwen3FolderWithQkNormMatchesReference() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3").withTied(true)
                .withShape(64, 96, 4, 2).withHeadDim(32).withEps(1e-6f);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.BF16, 2);
        assertEquals("qwen3", config.architecture());
        assertEquals(32, config.headDim());
    }

    @Test
    void huggingFaceGemma3FolderWithOneBasedNormsAndLayerTypesMatchesReference() {
        // Gemma3ForCausalLM: norms stored as weight − 1, a post-attention_layernorm that is not the FFN's, layer_types
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma3").withShape(64, 96, 4, 1)
                .withHeadDim(32).withLayers(6).withTheta(1e6f).withTied(true).withEps(1e-6f);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.BF16, 2);
        assertEquals("gemma3", config.architecture());
        assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 6, 10000f), config.block().window());
        assertEquals(RandomLlamaGguf.GEMMA3_LINEAR, config.ropeLinearFactor());
        assertEquals(8f, config.block().embeddingScale(), "sqrt(64), exact in BF16");
    }

    @Test
    void huggingFaceGemma3FolderWithVisionRunsItsTextModelInEitherLayout() {
        // Gemma3ForConditionalGeneration (4B, 12B, 27B): the text model's config in text_config, with Gemma3TextConfig's
        // defaults where it says nothing, its tensors under language_model.model.* (or transformers 4.52's
        // model.language_model.*), a vision tower beside them that is not read; 8 heads of 256 and 4 KV heads, as
        // google/gemma-3-4b-it has them, are the defaults its text_config leaves out
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma3").withShape(64, 96, 8, 4)
                .withHeadDim(256).withLayers(6).withTheta(1e6f).withTied(true).withEps(1e-6f);
        for (boolean newLayout : new boolean[] {false, true}) {
            RandomLlamaGguf drawn = RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf"));
            Path hf = dir.resolve("hf-vision-" + newLayout);
            RandomHfFolder folder = RandomHfFolder.write(drawn, hf, SafetensorsDtype.BF16, newLayout ? 1 : 2);
            RandomHfFolder.asGemma3WithVision(hf, newLayout);
            double[][] expected = new ReferenceTransformer(spec, folder.stored::get, true).forward(TOKENS);
            try (Checkpoint checkpoint = Checkpoint.open(hf)) {
                ModelConfig c = checkpoint.config();
                assertEquals("gemma3", c.architecture());
                assertEquals(131072, c.contextLength(), "Gemma3TextConfig's max_position_embeddings");
                assertEquals(List.of(8, 4, 256), List.of(c.nHeads(), c.nKvHeads(), c.headDim()), "Gemma3TextConfig's heads");
                assertEquals(1 / 16f, c.block().attentionScale(), "1/sqrt(query_pre_attn_scalar 256)");
                assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 6, 10000f), c.block().window(),
                        "five sliding layers of six with RoPE base 10000, by default");
                assertClose(expected, logitsAtEveryPosition(checkpoint.loadModel(), TOKENS), 1e-4);
                assertTrue(checkpoint.toString().contains("gemma3,"), checkpoint.toString());
            }
        }
        // a config without its text model, and weights in neither layout, fail naming what was looked for
        Path hf = dir.resolve("hf-vision-false");
        Path config = hf.resolve("config.json");
        String json;
        try {
            json = java.nio.file.Files.readString(config);
            java.nio.file.Files.writeString(config, json.replace("\"text_config\"", "\"text\""));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.open(hf).close());
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("no text_config"), e.getMessage());
        Path textOnly = dir.resolve("hf-text"); // the text model's tensors as model.*, under a config with vision
        RandomHfFolder.write(RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf")), textOnly, SafetensorsDtype.F32, 1);
        try {
            java.nio.file.Files.writeString(textOnly.resolve("config.json"), json);
        } catch (java.io.IOException x) {
            throw new java.io.UncheckedIOException(x);
        }
        try (Checkpoint checkpoint = Checkpoint.open(textOnly)) {
            e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, checkpoint::loadModel);
            assertTrue(e.getMessage().contains("hf-text") && e.getMessage().contains("language_model.model.embed_tokens.weight"),
                    e.getMessage());
        }
    }

    @Test
    void huggingFaceGemma2FolderWithSoftCapsAndSlidingEvenLayersMatchesReference() {
        // an older Gemma2Config: no layer_types, so every other layer slides by the model type; both caps bind
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("gemma2").withTied(true).withEps(1e-6f);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.F32, 1);
        assertEquals("gemma2", config.architecture());
        assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 2, spec.theta()), config.block().window());
        assertEquals(RandomLlamaGguf.GEMMA2_FINAL_CAP, config.block().finalSoftcap());
        assertEquals((float) Math.sqrt(spec.dim()), config.block().embeddingScale());
    }

    @Test
    void huggingFacePhi3FoldersWithFusedTensorsLongRopeAndPartialRotationMatchReference() throws java.io.IOException {
        // Phi-3.5-mini: qkv_proj and gate_up_proj cut into their parts' rows, LongRoPE's short factors and the attention
        // factor of a 4096-position context stretched 32 times, every layer's sliding window; whole heads turn
        RandomLlamaGguf.Spec mini = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3").withShape(64, 96, 4, 4);
        ModelConfig phi35 = assertHuggingFaceFolderMatchesReference(mini, SafetensorsDtype.BF16, 2);
        assertEquals("phi3", phi35.architecture());
        assertEquals(4096, phi35.contextLength(), "the original context: positions past it would need the long factors");
        assertEquals(RandomLlamaGguf.PHI3_ATTN_FACTOR, phi35.ropeAttentionFactor(), 1e-6f);
        assertEquals(new SlidingWindow(RandomLlamaGguf.SLIDING_WINDOW, 0, mini.theta()), phi35.block().window());
        // Phi-4-mini: GQA, 24 of a head's 32 dimensions turn (partial_rotary_factor 0.75), a tied output
        ModelConfig phi4 = assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("phi3")
                .withShape(64, 96, 2, 1).withRopeDim(24).withTied(true), SafetensorsDtype.F16, 1);
        assertEquals(24, phi4.ropeDim());
        // the older name of the same scaling (Phi-3-mini-128k's first configs) reads alike; what is not LongRoPE's fails
        Path config = dir.resolve("hf-" + (folders - 1)).resolve("config.json");
        String json = java.nio.file.Files.readString(config);
        java.nio.file.Files.writeString(config, json.replace("\"longrope\"", "\"su\""));
        assertEquals(phi4, io.inferstream.runtime.checkpoint.HfConfig.read(config).model());
        java.nio.file.Files.writeString(config, json.replace("\"longrope\"", "\"yarn\""));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> io.inferstream.runtime.checkpoint.HfConfig.read(config));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("rope_scaling type 'yarn'"), e.getMessage());
        java.nio.file.Files.writeString(config, json.replaceFirst("\"short_factor\" : \\[ [^,]+,", "\"short_factor\" : ["));
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> io.inferstream.runtime.checkpoint.HfConfig.read(config));
        assertTrue(e.getMessage().contains("rope_scaling.short_factor is of 11 values; expected 12"), e.getMessage());
    }

    @Test
    void huggingFaceF32FolderWithThreeQueryHeadsPerKvHeadMatchesReference() {
        assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(192, 96, 6, 2),
                SafetensorsDtype.F32, 1);
    }

    /** The folder loaded through {@link Checkpoint#open}, against the reference over the values as stored. */
    private ModelConfig assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype, int shards) {
        RandomLlamaGguf drawn = RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf"));
        Path hf = dir.resolve("hf-" + folders++); // a folder of its own: one test may write several
        RandomHfFolder folder = RandomHfFolder.write(drawn, hf, dtype, shards);
        double[][] expected = new ReferenceTransformer(spec, folder.stored::get, true).forward(TOKENS);
        try (Checkpoint checkpoint = Checkpoint.open(hf)) {
            LlamaModel model = checkpoint.loadModel();
            assertEquals(spec.vocab(), model.config().vocabSize());
            assertEquals(spec.eps(), model.config().rmsEps());
            assertClose(expected, logitsAtEveryPosition(model, TOKENS), 1e-4);
            return model.config();
        }
    }

    /**
     * The model over the GGUF, against the reference over the same GGUF's weights dequantized to float64.
     * {@code tolerance} is relative to the largest |logit|. The tensor kernels multiply quantized weights with
     * float activations (no 8-bit rounding of the activations), so quantized models meet the F32 bound too.
     */
    private void assertMatchesReference(RandomLlamaGguf.Spec spec, double tolerance) {
        Path path = dir.resolve("model.gguf");
        RandomLlamaGguf.write(spec, path);
        try (GgufFile gguf = GgufFile.open(path)) {
            Function<String, double[]> tensors = spec.arch().equals("phi3") ? phi3Parts(dequantized(gguf), spec) : dequantized(gguf);
            double[][] expected = new ReferenceTransformer(spec, tensors, !java.util.List.of("llama", "granite", "granitemoe").contains(spec.arch()))
                    .forward(TOKENS);
            LlamaModel model = LlamaModel.load(gguf);
            assertEquals(spec.vocab(), model.config().vocabSize());
            assertEquals(spec.eps(), model.config().rmsEps());
            assertClose(expected, logitsAtEveryPosition(model, TOKENS), tolerance);
        }
    }

    static float[][] logitsAtEveryPosition(LanguageModel model, int[] tokens) {
        int n = tokens.length;
        int bs = 16;
        KvStore kv = model.newKvStore((n + bs - 1) / bs, bs, KvStore.Precision.F32);
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
        }
        int[] table = new int[kv.numBlocks()];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        float[] flat = model.forward(new TokenBatch(tokens, positions, new int[n], new int[][] {table}, positions), kv);
        int vocab = model.config().vocabSize();
        float[][] out = new float[n][vocab];
        for (int t = 0; t < n; t++) {
            System.arraycopy(flat, t * vocab, out[t], 0, vocab);
        }
        return out;
    }

    private static void assertClose(double[][] expected, float[][] actual, double tolerance) {
        double error = relativeError(expected, actual);
        assertTrue(error < tolerance, "max |error| relative to max |logit| = " + error + " exceeds " + tolerance);
    }

    /** The largest |expected - actual| over the largest |expected|; the reference must not be degenerate. */
    private static double relativeError(double[][] expected, float[][] actual) {
        double maxAbs = 0;
        double maxErr = 0;
        for (int t = 0; t < expected.length; t++) {
            for (int i = 0; i < expected[t].length; i++) {
                maxAbs = Math.max(maxAbs, Math.abs(expected[t][i]));
                maxErr = Math.max(maxErr, Math.abs(expected[t][i] - actual[t][i]));
            }
        }
        assertTrue(maxAbs > 0.1, "reference logits are degenerate (max |logit| " + maxAbs + ")");
        return maxErr / maxAbs;
    }

    /** Every tensor of the file dequantized (by the tensor package) to float64, row-major. */
    /** Phi-3's parts as rows of its fused tensors: Q, K, V of attn_qkv; gate then up of the double-height ffn_up. */
    private static Function<String, double[]> phi3Parts(Function<String, double[]> file, RandomLlamaGguf.Spec spec) {
        int qRows = spec.heads() * spec.headDim();
        int kvRows = spec.kvHeads() * spec.headDim();
        return name -> {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(blk\\.\\d+\\.)(attn_[qkv]|ffn_gate|ffn_up)\\.weight").matcher(name);
            if (!m.matches()) {
                return file.apply(name);
            }
            String layer = m.group(1);
            int cols = spec.dim();
            return switch (m.group(2)) {
                case "attn_q" -> rows(file.apply(layer + "attn_qkv.weight"), cols, 0, qRows);
                case "attn_k" -> rows(file.apply(layer + "attn_qkv.weight"), cols, qRows, kvRows);
                case "attn_v" -> rows(file.apply(layer + "attn_qkv.weight"), cols, qRows + kvRows, kvRows);
                case "ffn_gate" -> rows(file.apply(layer + "ffn_up.weight"), cols, 0, spec.hidden());
                default -> rows(file.apply(layer + "ffn_up.weight"), cols, spec.hidden(), spec.hidden());
            };
        };
    }

    private static double[] rows(double[] m, int cols, int first, int count) {
        assertTrue(m.length >= (first + count) * cols, "the fused tensor holds the part's rows");
        return java.util.Arrays.copyOfRange(m, first * cols, (first + count) * cols);
    }

    private static Function<String, double[]> dequantized(GgufFile gguf) {
        Map<String, double[]> cache = new HashMap<>();
        return name -> cache.computeIfAbsent(name, n -> {
            GgufTensorInfo t = gguf.tensor(n);
            int cols = (int) t.ne(0);
            int rows = (int) (t.elementCount() / cols);
            Matrix m = Matrix.of(t.type(), gguf.tensorData(n), rows, cols, n);
            float[] row = new float[cols];
            double[] out = new double[rows * cols];
            for (int r = 0; r < rows; r++) {
                m.dequantizeRow(r, row, 0);
                for (int c = 0; c < cols; c++) {
                    out[r * cols + c] = row[c];
                }
            }
            return out;
        });
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
