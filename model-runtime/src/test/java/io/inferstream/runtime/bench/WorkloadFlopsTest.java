package io.inferstream.runtime.bench;

import io.inferstream.runtime.model.ModelConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WorkloadFlopsTest {

    private static ModelConfig config(ModelShape s) {
        return new ModelConfig("llama", s.dim(), s.hiddenDim(), s.nLayers(), s.nHeads(), s.nKvHeads(), s.headDim(),
                s.vocabSize(), s.contextLength(), 1e-5f, s.ropeTheta(), false, null);
    }

    @Test
    void smolLm2WorkloadOfTheIssueMatchesTheHandCount() {
        // docs/benchmarks.md: 106.2 M multiply-adds per token in the 30 layers, 28.3 M per sampled token in the
        // 49152 x 576 head; 64 x (128 + 63) token forwards and 64 x 64 logit rows: 1.414 T multiply-adds
        WorkloadFlops w = WorkloadFlops.of(config(ModelShape.SMOLLM2_135M), 64, 128, 64);
        double layerMacs = 30.0 * (576 * 576 + 2 * 576 * 192 + 576 * 576 + 3 * 576 * 1536);
        assertEquals(106_168_320, layerMacs);
        double expected = 2 * 64 * (layerMacs * 191 + 49152.0 * 576 * 64);
        assertEquals(expected, w.matmulFlops(), 1);
        assertEquals(2.83e12, w.matmulFlops(), 0.01e12);
    }

    @Test
    void attentionCountEqualsANaiveLoopOverTokensLayersAndHeads() {
        ModelShape s = ModelShape.TINY;
        int prompt = 7;
        int output = 5;
        double naive = 0;
        for (int p = 0; p < prompt + output - 1; p++) {      // every token fed to the model
            for (int l = 0; l < s.nLayers(); l++) {
                for (int h = 0; h < s.nHeads(); h++) {
                    for (int ctx = 0; ctx <= p; ctx++) {          // the positions it attends to
                        naive += 2 * s.headDim() * 2;             // q·k and weight·v, 2 FLOP per multiply-add
                    }
                }
            }
        }
        WorkloadFlops w = WorkloadFlops.of(config(s), 3, prompt, output);
        assertEquals(3 * naive, w.attentionFlops(), 1e-6);
        assertEquals(w.matmulFlops() + w.attentionFlops(), w.total());
    }
}
