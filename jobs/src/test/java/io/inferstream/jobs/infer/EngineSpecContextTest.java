package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.jobs.InferenceOptions;
import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import picocli.CommandLine;

/** The job's --context-tokens reaches the model's load: a LongRoPE model past its original context. */
class EngineSpecContextTest {

    @TempDir
    Path dir;

    @Test
    void contextTokensPastAPhi3ModelsOriginalContextLoadItForTheLongerOne() {
        // Phi-3.5-mini's context in miniature (4096 original positions of 131072), with stories260K's vocabulary
        ModelShape shape = new ModelShape("tiny-phi3", "phi3", 64, 96, 2, 4, 4, 16, 512, 131072, 10000f, false, 262144);
        Path phi3;
        try (GgufFile vocabulary = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            phi3 = RandomModelWriter.write(shape, GgmlType.Q8_0, 7, dir.resolve("phi3.gguf"), vocabulary);
        }
        int[] prompt = new int[6000];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + rnd.nextInt(shape.vocabSize() - 3);
        }
        Request request = Request.builder(prompt).id("long").params(SamplingParams.greedy(4)).build();

        InferenceOptions options = new InferenceOptions();
        EngineSpec defaults = options.engineSpec(phi3.toString(), "phi3");
        assertEquals(0, defaults.contextTokens());
        try (LoadedModel loaded = LoadedModel.load(defaults)) {
            assertEquals(4096, loaded.modelConfig().contextLength());
            assertTrue(loaded.tokenizer().encode("Once upon a time").length > 1, "the vocabulary came with the model");
            Completion c = loaded.engine().submit(request).join();
            assertEquals(FinishReason.ERROR, c.finishReason());
            assertTrue(c.message().contains("context length of 4096"), c.message());
        }

        new CommandLine(options).parseArgs("--context-tokens", "8192");
        EngineSpec longer = options.engineSpec(phi3.toString(), "phi3");
        assertEquals(8192, longer.contextTokens());
        assertEquals("8192", options.settings().get("context-tokens"));
        try (LoadedModel loaded = LoadedModel.load(longer)) {
            assertEquals(8192, loaded.modelConfig().contextLength());
            Completion c = loaded.engine().submit(request).join();
            assertEquals(FinishReason.LENGTH, c.finishReason(), c.message());
        }

        new CommandLine(options).parseArgs("--context-tokens", "-1");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options.engineSpec(phi3.toString(), "phi3"));
        assertTrue(e.getMessage().contains("context tokens must be >= 0"), e.getMessage());
    }
}
