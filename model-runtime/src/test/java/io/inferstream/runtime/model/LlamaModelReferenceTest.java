package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
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
    void huggingFaceQwen3FolderWithQkNormMatchesReference() {
        RandomLlamaGguf.Spec spec = RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3").withTied(true)
                .withShape(64, 96, 4, 2).withHeadDim(32).withEps(1e-6f);
        ModelConfig config = assertHuggingFaceFolderMatchesReference(spec, SafetensorsDtype.BF16, 2);
        assertEquals("qwen3", config.architecture());
        assertEquals(32, config.headDim());
    }

    @Test
    void huggingFaceF32FolderWithThreeQueryHeadsPerKvHeadMatchesReference() {
        assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec.llama(GgmlType.F32).withShape(192, 96, 6, 2),
                SafetensorsDtype.F32, 1);
    }

    /** The folder loaded through {@link Checkpoint#open}, against the reference over the values as stored. */
    private ModelConfig assertHuggingFaceFolderMatchesReference(RandomLlamaGguf.Spec spec, SafetensorsDtype dtype, int shards) {
        RandomLlamaGguf drawn = RandomLlamaGguf.write(spec, dir.resolve("drawn.gguf"));
        RandomHfFolder folder = RandomHfFolder.write(drawn, dir.resolve("hf"), dtype, shards);
        double[][] expected = new ReferenceTransformer(spec, folder.stored::get, true).forward(TOKENS);
        try (Checkpoint checkpoint = Checkpoint.open(dir.resolve("hf"))) {
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
            double[][] expected = new ReferenceTransformer(spec, dequantized(gguf), !spec.arch().equals("llama")).forward(TOKENS);
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
        double maxAbs = 0;
        double maxErr = 0;
        for (int t = 0; t < expected.length; t++) {
            for (int i = 0; i < expected[t].length; i++) {
                maxAbs = Math.max(maxAbs, Math.abs(expected[t][i]));
                maxErr = Math.max(maxErr, Math.abs(expected[t][i] - actual[t][i]));
            }
        }
        assertTrue(maxAbs > 0.1, "reference logits are degenerate (max |logit| " + maxAbs + ")");
        assertTrue(maxErr / maxAbs < tolerance, "max |error| " + maxErr + " relative to max |logit| " + maxAbs
                + " = " + maxErr / maxAbs + " exceeds " + tolerance);
    }

    /** Every tensor of the file dequantized (by the tensor package) to float64, row-major. */
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
