package io.inferstream.runtime.bench;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class RandomModelWriterTest {

    @Test
    void writtenModelLoadsWithTheShapesHyperParametersAndType(@TempDir Path dir) {
        ModelShape s = ModelShape.TINY;
        Path file = RandomModelWriter.write(s, GgmlType.Q8_0, 3, dir.resolve("m.gguf"));
        try (GgufFile gguf = GgufFile.open(file); LlamaModel model = LlamaModel.load(gguf)) {
            ModelConfig c = model.config();
            assertEquals(s.dim(), c.dim());
            assertEquals(s.hiddenDim(), c.hiddenDim());
            assertEquals(s.nLayers(), c.nLayers());
            assertEquals(s.nHeads(), c.nHeads());
            assertEquals(s.nKvHeads(), c.nKvHeads());
            assertEquals(s.vocabSize(), c.vocabSize());
            assertEquals(s.contextLength(), c.contextLength());
            assertEquals(GgmlType.Q8_0, gguf.tensor("blk.1.ffn_down.weight").type());
            assertEquals(GgmlType.F32, gguf.tensor("blk.1.ffn_norm.weight").type());
            assertEquals(s.tiedOutput(), !gguf.hasTensor("output.weight"));
        }
    }

    @Test
    void aQwen3ShapeWritesItsHeadWidthAndQkNorms(@TempDir Path dir) {
        ModelShape s = new ModelShape("tiny-qwen3", "qwen3", 64, 192, 2, 4, 2, 32, 512, 2048, 1000000f, true);
        Path file = RandomModelWriter.write(s, GgmlType.Q8_0, 3, dir.resolve("q3.gguf"));
        try (GgufFile gguf = GgufFile.open(file); LlamaModel model = LlamaModel.load(gguf)) {
            assertEquals("qwen3", model.config().architecture());
            assertEquals(32, model.config().headDim());
            assertEquals(128, model.weights().wq()[0].rows());
            assertEquals(32, model.weights().qNorm()[1].length);
        }
    }

    @Test
    void aGemma3ShapeWritesItsSlidingWindowQkNormsAndPostNorms(@TempDir Path dir) {
        ModelShape s = new ModelShape("tiny-gemma3", "gemma3", 64, 192, 6, 4, 1, 32, 512, 2048, 1000000f, true, 16);
        Path file = RandomModelWriter.write(s, GgmlType.Q8_0, 3, dir.resolve("g3.gguf"));
        try (GgufFile gguf = GgufFile.open(file); LlamaModel model = LlamaModel.load(gguf)) {
            assertEquals(new io.inferstream.runtime.model.SlidingWindow(16, 6, 10000f), model.config().block().window());
            assertEquals(32, model.weights().kNorm()[5].length);
            assertEquals(64, model.weights().postFfnNorm()[5].length);
            assertEquals(64, model.weights().postAttnNorm()[0].length);
        }
    }

    @Test
    void aGraniteMoeShapeWritesItsExpertsScalesAndRouter(@TempDir Path dir) {
        ModelShape s = new ModelShape("tiny-granitemoe", "granitemoe", 64, 96, 2, 4, 2, 16, 512, 2048, 10000f, true, 0, 8, 2);
        Path file = RandomModelWriter.write(s, GgmlType.Q8_0, 3, dir.resolve("gm.gguf"));
        try (GgufFile gguf = GgufFile.open(file); LlamaModel model = LlamaModel.load(gguf)) {
            ModelConfig c = model.config();
            assertEquals(new io.inferstream.runtime.model.Experts(8, 2, 96, true, 1f, 0), c.block().experts());
            assertEquals(0.22f, c.block().residualScale());
            assertEquals(6f, c.block().logitScale());
            assertEquals(GgmlType.F32, model.weights().experts()[1].router().type());
            assertEquals(GgmlType.Q8_0, model.weights().experts()[1].down()[7].type());
            assertArrayEquals(new long[] {96, 64, 8}, gguf.tensor("blk.1.ffn_down_exps.weight").shape());
        }
    }

    @Test
    void aPhi3ShapeWritesFusedTensorsAndBothLongRopeFactorLists(@TempDir Path dir) {
        ModelShape s = new ModelShape("tiny-phi3", "phi3", 64, 96, 2, 4, 4, 16, 512, 131072, 10000f, false, 262144);
        Path file = RandomModelWriter.write(s, GgmlType.Q8_0, 3, dir.resolve("p3.gguf"));
        try (GgufFile gguf = GgufFile.open(file); LlamaModel model = LlamaModel.load(gguf)) {
            ModelConfig c = model.config();
            assertEquals(RandomModelWriter.PHI3_ORIGINAL_CONTEXT, c.contextLength(), "the short factors' context by default");
            // Phi-3.5-mini's attention factor: sqrt(1 + ln(32) / ln(4096))
            assertEquals(1.1902380714, c.ropeAttentionFactor(), 1e-6);
            assertEquals("blk.1.attn_qkv.weight[128..192)", model.weights().wv()[1].name());
            assertEquals("blk.0.ffn_up.weight[96..192)", model.weights().up()[0].name());
            assertEquals(1f, model.weights().ropeFactors()[0]);
            assertEquals(1.1f, model.weights().ropeFactors()[7], 1e-6f);
            try (LlamaModel longer = LlamaModel.load(gguf, 32768)) {
                assertEquals(32768, longer.config().contextLength());
                assertEquals(40f, longer.weights().ropeFactors()[7], 1e-5f, "the long factors past 4096 positions");
            }
        }
    }

    @Test
    void phi35MiniShapeHasTheRealModelsParameterCount() {
        ModelShape s = ModelShape.PHI35_MINI;
        long perLayer = (long) s.dim() * (s.nHeads() + 2 * s.nKvHeads()) * s.headDim() // qkv
                + (long) s.nHeads() * s.headDim() * s.dim()                            // o
                + 3L * s.dim() * s.hiddenDim() + 2L * s.dim();                           // gate_up, down, norms
        // microsoft/Phi-3.5-mini-instruct: 3,821,079,552 parameters (an untied output of 32,064 rows)
        assertEquals(3_821_079_552L, s.nLayers() * perLayer + s.dim() + 2L * s.vocabSize() * s.dim());
    }

    @Test
    void graniteMoeShapeHasTheRealModelsParameterCount() {
        ModelShape s = ModelShape.GRANITE_MOE_1B;
        long attention = 2L * s.dim() * s.nHeads() * s.headDim() + 2L * s.dim() * s.nKvHeads() * s.headDim();
        long experts = (long) s.experts() * 3 * s.dim() * s.hiddenDim() + (long) s.experts() * s.dim(); // and the router
        long perLayer = attention + experts + 2L * s.dim();
        // ibm-granite/granite-3.0-1b-a400m (config.json: 1024 wide, 24 layers, 16 Q and 8 KV heads, 32 experts of 512,
        // vocabulary 49,155, tied): 1,334,628,352 weights, the "1.3B" of its name
        assertEquals(1_334_628_352L, s.nLayers() * perLayer + s.dim() + (long) s.vocabSize() * s.dim());
        // of which a token runs through 8 experts: the "A400M"
        long active = s.nLayers() * (attention + (long) s.expertsUsed() * 3 * s.dim() * s.hiddenDim()) + (long) s.vocabSize() * s.dim();
        assertTrue(active > 400_000_000L && active < 430_000_000L, "active weights " + active);
    }

    @Test
    void gemma3ShapeHasTheRealModelsParameterCount() {
        ModelShape s = ModelShape.GEMMA3_1B;
        long perLayer = qkNormLayerParameters(s, 4); // four norms of the width: input, post-attention, pre- and post-FFN
        // google/gemma-3-1b-pt: 999,885,952 parameters (tied embedding of 262,144 rows, 26 layers, 4 Q heads and 1 KV head of 256)
        assertEquals(999_885_952L, s.nLayers() * perLayer + s.dim() + (long) s.vocabSize() * s.dim());
    }

    @Test
    void qwen3ShapeHasTheRealModelsNonEmbeddingParameterCount() {
        ModelShape s = ModelShape.QWEN3_06B;
        long perLayer = qkNormLayerParameters(s, 2);
        // the model card of Qwen/Qwen3-0.6B: 0.44B non-embedding parameters, 28 layers, 16 Q and 8 KV heads
        assertEquals(440_467_456L, s.nLayers() * perLayer + s.dim());
    }

    /** One layer's parameters of a model with Q/K norms: Q, K, V, O, gate, up, down, the two head norms and {@code norms} of the width. */
    private static long qkNormLayerParameters(ModelShape s, int norms) {
        int q = s.nHeads() * s.headDim();
        int kv = s.nKvHeads() * s.headDim();
        return 2L * s.dim() * q + 2L * s.dim() * kv + 3L * s.dim() * s.hiddenDim() + 2L * s.headDim() + (long) norms * s.dim();
    }

    @Test
    void smolLm2ShapeHasTheRealModelsParameterCount() {
        ModelShape s = ModelShape.SMOLLM2_135M;
        long perLayer = 2L * s.dim() * s.dim()                       // q, o
                + 2L * s.dim() * s.nKvHeads() * s.headDim()          // k, v
                + 3L * s.dim() * s.hiddenDim()                       // gate, up, down
                + 2L * s.dim();                                      // norms
        long total = (long) s.vocabSize() * s.dim() + s.nLayers() * perLayer + s.dim();
        // Hugging Face lists SmolLM2-135M at 134,515,008 parameters (tied embeddings).
        assertEquals(134_515_008L, total);
    }
}
