package io.inferstream.runtime.generate;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.speculative.Speculation;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The single-request generator with prompt-lookup guesses gives what it gives without them, in fewer forward steps. */
class GeneratorSpeculationTest {

    @ParameterizedTest
    @EnumSource(KvStore.Precision.class)
    void guessesChangeNothingInWhatIsGenerated(KvStore.Precision precision) {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            int[] prompt = tok.encode("Lily and Ben went to the park. Lily and Ben");
            List<SamplingParams> cases = List.of(
                    SamplingParams.greedy(200).withLogprobs(true),
                    SamplingParams.greedy(200).withTemperature(0.7f).withTopP(0.9f).withSeed(3).withLogprobs(true),
                    SamplingParams.greedy(200).withStopStrings(List.of("Lily was sad")),
                    SamplingParams.greedy(9));
            int kept = 0;
            for (SamplingParams params : cases) {
                GenerationResult plain = new Generator(model, tok, precision).generate(prompt, params, null);
                StringBuilder streamed = new StringBuilder();
                GenerationResult guessed = new Generator(model, tok, precision, new Speculation(5, 2, 4, 1))
                        .generate(prompt, params, streamed::append);
                assertArrayEquals(plain.tokens(), guessed.tokens(), params.toString());
                assertEquals(plain.text(), guessed.text());
                assertEquals(plain.text(), streamed.toString(), "the stream carries exactly the final text");
                assertEquals(plain.finishReason(), guessed.finishReason());
                assertArrayEquals(plain.logprobs(), guessed.logprobs(), 0f, "log-probs, bit for bit");
                assertEquals(0, plain.draftTokens());
                assertTrue(guessed.acceptedDraftTokens() <= guessed.draftTokens());
                assertTrue(guessed.draftTokens() <= 5 * guessed.tokens().length);
                kept += guessed.acceptedDraftTokens();
            }
            assertTrue(kept > 20, "guesses were kept: " + kept);
        }
    }
}
