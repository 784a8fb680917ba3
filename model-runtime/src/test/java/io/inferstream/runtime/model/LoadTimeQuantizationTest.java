package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.safetensors.SafetensorsDtype;
import io.inferstream.runtime.tensor.Matrix;

/**
 * {@code --quantize}: a float model re-encoded at load computes exactly what the quantized GGUF of the same weights
 * computes (both through llama.cpp's reference quantizers), whatever the format it came from.
 */
class LoadTimeQuantizationTest {

    private static final int[] TOKENS = {1, 17, 250, 3, 99, 99, 42, 7, 288, 150, 64, 5};

    @TempDir
    Path dir;

    @Test
    void anF32FolderQuantizedAtLoadGivesTheQuantizedGgufsLogitsBitForBit() {
        assertQuantizedAtLoadGivesTheQuantizedGgufsLogits(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3")
                .withShape(64, 96, 4, 2).withHeadDim(32).withTied(true), "dense");
    }

    @Test
    void aMixtureFolderQuantizedAtLoadGivesTheQuantizedGgufsLogitsBitForBit() {
        // every expert re-encoded, the routers kept in F32 as llama-quantize keeps ffn_gate_inp
        assertQuantizedAtLoadGivesTheQuantizedGgufsLogits(RandomLlamaGguf.Spec.llama(GgmlType.F32).withArch("qwen3moe")
                .withShape(64, 96, 4, 2).withHeadDim(32).withTied(true).withExperts(4, false), "moe");
    }

    private void assertQuantizedAtLoadGivesTheQuantizedGgufsLogits(RandomLlamaGguf.Spec spec, String name) {
        for (GgmlType type : LoadTimeQuantization.TARGETS) {
            // the same draw twice: once as a Hugging Face F32 folder, once as a GGUF quantized when written
            RandomHfFolder.write(RandomLlamaGguf.write(spec, dir.resolve("f32.gguf")), dir.resolve("hf-" + name + type), SafetensorsDtype.F32, 1);
            Path quantized = dir.resolve(name + type + ".gguf");
            RandomLlamaGguf.write(new RandomLlamaGguf.Spec(spec.arch(), spec.dim(), spec.hidden(), spec.layers(), spec.heads(),
                    spec.kvHeads(), spec.vocab(), spec.context(), spec.eps(), spec.theta(), type, spec.tied(), spec.llama3(),
                    spec.hfPermutedQk(), spec.seed(), spec.ropeFreqsTensor(), spec.headDim(), spec.ropeDim(), spec.experts(),
                    spec.splitExperts()), quantized);
            try (Checkpoint folder = Checkpoint.open(dir.resolve("hf-" + name + type)); GgufFile gguf = GgufFile.open(quantized)) {
                LlamaModel loaded = LoadTimeQuantization.apply(folder.loadModel(), type);
                assertEquals(type, loaded.weights().wq()[1].type());
                if (spec.experts() > 0) {
                    assertEquals(type, loaded.weights().experts()[1].down()[3].type());
                    assertEquals(GgmlType.F32, loaded.weights().experts()[1].router().type());
                }
                assertSame(loaded.weights().tokenEmbedding(), loaded.weights().output(), "a tied output stays the embedding");
                float[][] expected = LlamaModelReferenceTest.logitsAtEveryPosition(LlamaModel.load(gguf), TOKENS);
                float[][] actual = LlamaModelReferenceTest.logitsAtEveryPosition(loaded, TOKENS);
                for (int t = 0; t < TOKENS.length; t++) {
                    assertArrayEquals(expected[t], actual[t], type + " logits after token " + t);
                }
                float[][] unquantized = LlamaModelReferenceTest.logitsAtEveryPosition(folder.loadModel(), TOKENS);
                assertTrue(!java.util.Arrays.equals(unquantized[3], actual[3]), "quantizing changed the weights");
            }
        }
    }

    @Test
    void quantizedMatricesNormsAndBiasesStayAsTheyAre() {
        Path path = dir.resolve("q4k.gguf");
        RandomLlamaGguf.write(RandomLlamaGguf.Spec.llama(GgmlType.Q4_K).withArch("qwen2").withShape(256, 256, 4, 2), path);
        try (GgufFile gguf = GgufFile.open(path)) {
            LlamaModel model = LlamaModel.load(gguf);
            LlamaWeights q = LoadTimeQuantization.apply(model.weights(), GgmlType.Q8_0);
            assertSame(model.weights().wq()[0], q.wq()[0], "a Q4_K matrix is not re-encoded");
            assertSame(model.weights().bq(), q.bq());
            assertSame(model.weights().attnNorm(), q.attnNorm());
        }
    }

    @Test
    void aMatrixWhoseRowsAreNotWholeBlocksStaysAsStoredAndBadValuesAreRefused() {
        Matrix narrow = Matrix.ofF32(new float[3 * 48], 3, 48);
        assertSame(narrow, LoadTimeQuantization.quantize(narrow, GgmlType.Q8_0));
        Matrix whole = Matrix.ofF32(new float[3 * 64], 3, 64);
        assertEquals(GgmlType.Q4_0, LoadTimeQuantization.quantize(whole, GgmlType.Q4_0).type());
        assertNull(LoadTimeQuantization.parse("none"));
        assertEquals(GgmlType.Q4_0, LoadTimeQuantization.parse("q4_0"));
        String m = assertThrows(IllegalArgumentException.class, () -> LoadTimeQuantization.parse("q5_1")).getMessage();
        assertTrue(m.contains("--quantize q5_1") && m.contains("q8_0, q4_0"), m);
    }
}
