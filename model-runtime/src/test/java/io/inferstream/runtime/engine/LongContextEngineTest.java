package io.inferstream.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;

/**
 * A LongRoPE model (Phi-3.5-mini's context in miniature: 4096 positions with the short factors, 131072 with the long
 * ones) runs past its original context when it is loaded for a longer one, and only then.
 */
class LongContextEngineTest {

    @TempDir
    Path dir;

    @Test
    void aPhi3ModelLoadedForALongerContextTakesAPromptPastItsOriginalContext() {
        ModelShape shape = new ModelShape("tiny-phi3", "phi3", 64, 96, 2, 4, 4, 16, 512, 131072, 10000f, false, 262144);
        Path path = RandomModelWriter.write(shape, GgmlType.Q8_0, 5, dir.resolve("phi3.gguf"));
        int[] prompt = TestModels.randomPrompt(new SplittableRandom(9), 6000, shape.vocabSize());
        Request request = Request.builder(prompt).id("long").params(SamplingParams.greedy(8)).build();
        try (Checkpoint checkpoint = Checkpoint.open(path); LanguageModel model = checkpoint.loadModel();
             Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            Completion c = engine.submit(request).join();
            assertEquals(FinishReason.ERROR, c.finishReason());
            assertTrue(c.message().contains("exceeds the model's context length of 4096"), c.message());
        }
        try (Checkpoint checkpoint = Checkpoint.open(path, 8192); LanguageModel model = checkpoint.loadModel();
             Engine engine = new Engine(model, null, EngineConfig.defaults())) {
            assertEquals(8192, model.config().contextLength());
            Completion c = engine.submit(request).join();
            assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
            assertEquals(8, c.tokens().length);
        }
    }
}
