package io.inferstream.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.generate.FinishReason;
import io.inferstream.runtime.generate.GenerationResult;
import io.inferstream.runtime.generate.Generator;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/**
 * stories260K generates exactly what llama2.c's run.c generates (greedy, empty prompt, 200 forward
 * passes, stop if BOS comes out): fixture {@code reference/stories260K-greedy-200.txt}.
 */
class StoriesGreedyTest {

    private static final String OPENING = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    private static int[] expectedIds;   // BOS first
    private static String expectedText; // as run.c prints it, without its final newline

    @BeforeAll
    static void readFixture() throws IOException {
        try (InputStream in = StoriesGreedyTest.class.getResourceAsStream("/reference/stories260K-greedy-200.txt")) {
            String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int nl = all.indexOf('\n');
            expectedIds = Arrays.stream(all.substring(0, nl).trim().split(" ")).mapToInt(Integer::parseInt).toArray();
            String text = all.substring(nl + 1);
            expectedText = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        }
    }

    @Test
    void ggufGreedyMatchesLlama2cTokenForToken() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            assertMatchesFixture(LlamaModel.load(gguf), Tokenizers.fromGguf(gguf));
        }
    }

    @Test
    void llama2cCheckpointGreedyMatchesLlama2cTokenForToken() {
        LlamaModel model = Llama2cLoader.load(SharedModels.require("stories260K/stories260K.bin"));
        ModelConfig c = model.config();
        assertEquals(List.of(64, 172, 5, 8, 4, 512, 512),
                List.of(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(), c.contextLength()));
        assertMatchesFixture(model, Tokenizers.fromLlama2c(SharedModels.require("stories260K/tok512.bin")));
    }

    @Test
    void huggingFaceFolderGreedyMatchesLlama2cTokenForToken(@TempDir Path dir) throws IOException {
        // what llama2.c's export.py writes for transformers, read back through the one model entry point
        Llama2cHfExport.export(SharedModels.require("stories260K/stories260K.bin"),
                SharedModels.require("stories260K/tok512.model"), dir.resolve("stories260K-hf"));
        try (Checkpoint checkpoint = Checkpoint.open(dir.resolve("stories260K-hf"))) {
            assertEquals("safetensors", checkpoint.format());
            assertTrue(checkpoint.config().ropeNeox());
            assertMatchesFixture(checkpoint.loadModel(), checkpoint.tokenizer());
        }
    }

    private static void assertMatchesFixture(LlamaModel model, Tokenizer tokenizer) {
        int[] prompt = {expectedIds[0]};
        assertEquals(tokenizer.bos(), prompt[0]);
        // run.c: 200 forward passes from BOS, each yielding one token; a generated BOS ends the text
        SamplingParams params = SamplingParams.greedy(200).withStopTokens(List.of(tokenizer.bos()));
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = new Generator(model, tokenizer).generate(prompt, params, streamed::append);
        int[] generated = r.tokens();
        if (r.finishReason() == FinishReason.STOP && generated[generated.length - 1] == tokenizer.bos()) {
            generated = Arrays.copyOf(generated, generated.length - 1);
        }
        assertArrayEquals(Arrays.copyOfRange(expectedIds, 1, expectedIds.length), generated);
        String text = tokenizer.decode(generated);
        assertTrue(text.startsWith(OPENING), text);
        assertEquals(expectedText, text);
        // streamed text is the same pieces, with the SentencePiece space before the first word kept
        assertEquals(expectedText, streamed.toString().replaceFirst("^ ", ""));
        assertEquals(streamed.toString(), r.text());
    }
}
