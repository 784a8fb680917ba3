package io.inferstream.runtime.engine;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** Text in and out: text prompts, streamed text, stop strings, against llama2.c's decoded output. */
class EngineTextTest {

    /** The text llama2.c run.c printed for greedy generation from BOS (reference file, lines after the first). */
    private static String referenceText() throws IOException {
        try (InputStream in = EngineTextTest.class.getResourceAsStream("/reference/stories260K-greedy-200.txt")) {
            assertNotNull(in, "test resource reference/stories260K-greedy-200.txt");
            String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return all.substring(all.indexOf('\n') + 1);
        }
    }

    @Test
    void generatedAndStreamedTextMatchLlama2cAndStopStringsCutIt() throws IOException {
        String reference = referenceText();
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults())) {
                StringBuilder streamed = new StringBuilder();
                Completion full = engine.submit(Request.builder(new int[] {1}).params(SamplingParams.greedy(60))
                        .listener((id, token, delta) -> streamed.append(delta)).build()).join();
                String text = full.text().stripLeading();
                assertTrue(text.length() > 40, text);
                assertTrue(reference.startsWith(text), "engine text:\n" + text + "\nllama2.c:\n" + reference);
                assertEquals(full.text(), streamed.toString(), "the stream carries exactly the final text");

                Completion stopped = engine.submit(Request.builder(new int[] {1})
                        .params(SamplingParams.greedy(60).withStopStrings(List.of("Lily"))).build()).join();
                assertEquals(FinishReason.STOP, stopped.finishReason());
                String cut = reference.substring(0, reference.indexOf("Lily"));
                assertEquals(cut, stopped.text().stripLeading());

                // A text prompt is encoded with the vocabulary's BOS rule: same as giving BOS + its tokens.
                String prompt = "Once upon a time";
                Completion fromText = engine.submit(Request.builder(prompt).params(SamplingParams.greedy(20)).build()).join();
                Completion fromTokens = engine.submit(Request.builder(tok.encode(prompt))
                        .params(SamplingParams.greedy(20)).build()).join();
                assertEquals(fromTokens.text(), fromText.text());
                assertEquals(tok.encode(prompt).length, fromText.promptTokens());
            }
        }
    }

    @Test
    void seededSampledTextIsTheSameAloneAndInABatchOf16() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            SamplingParams params = SamplingParams.greedy(50).withTemperature(1.0f).withTopK(40).withSeed(77);
            String alone;
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults())) {
                alone = engine.submit(Request.builder("Tom had a red ball").params(params).build()).join().text();
            }
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults())) {
                List<CompletableFuture<Completion>> batch = new ArrayList<>();
                for (int i = 0; i < 15; i++) {
                    batch.add(engine.submit(Request.builder("Once upon a time there was a cat number " + i)
                            .params(params.withSeed(i)).build()));
                }
                Completion c = engine.submit(Request.builder("Tom had a red ball").params(params).build()).join();
                assertEquals(alone, c.text());
                assertTrue(c.maxBatchSize() > 1);
                batch.forEach(CompletableFuture::join);
            }
        }
    }
}
