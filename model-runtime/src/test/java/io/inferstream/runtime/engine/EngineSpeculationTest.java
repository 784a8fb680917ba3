package io.inferstream.runtime.engine;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.speculative.Speculation;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Speculative decoding by prompt lookup changes how many steps a request takes, never what it gets: every request's
 * tokens, text, streamed pieces, log-probs and finish reason equal those of plain decoding, alone, in a batch, with
 * stop strings, seeded sampling and a repetition penalty, through the prefix cache and through preemption.
 */
class EngineSpeculationTest {

    /** Guesses of up to 4 tokens, also in a batch of 8. */
    private static final Speculation GUESS_4 = new Speculation(4, 2, 4, 8);

    private record Ask(int[] prompt, SamplingParams params) {
    }

    private record Got(Completion completion, String streamed) {
    }

    private static List<Ask> asks(Tokenizer tok) {
        List<Ask> asks = new ArrayList<>();
        asks.add(new Ask(new int[] {1}, SamplingParams.greedy(160)));
        asks.add(new Ask(tok.encode("Lily and Ben went to the park. Lily and Ben"), SamplingParams.greedy(120).withLogprobs(true)));
        asks.add(new Ask(new int[] {1}, SamplingParams.greedy(150).withStopStrings(List.of("Lily was sad"))));
        asks.add(new Ask(tok.encode("Once upon a time, there was a little girl"),
                SamplingParams.greedy(120).withTemperature(0.8f).withTopP(0.9f).withSeed(5).withLogprobs(true)));
        asks.add(new Ask(tok.encode("Once upon a time"), SamplingParams.greedy(120).withTemperature(1.0f).withTopK(20).withSeed(11)));
        asks.add(new Ask(tok.encode("The cat sat on the mat. The cat"), SamplingParams.greedy(100).withRepetitionPenalty(1.2f)));
        asks.add(new Ask(tok.encode("Tom had a red ball. Tom had a red"), SamplingParams.greedy(6)));
        asks.add(new Ask(new int[] {1}, SamplingParams.greedy(80).withStopTokens(List.of(tokenOf(tok, ".")))));
        return asks;
    }

    private static List<Got> run(Engine engine, List<Ask> asks, boolean together) {
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        List<StringBuilder> streams = new ArrayList<>();
        for (Ask a : asks) {
            StringBuilder streamed = new StringBuilder();
            streams.add(streamed);
            CompletableFuture<Completion> f = engine.submit(Request.builder(a.prompt()).params(a.params())
                    .listener((id, token, delta) -> streamed.append(delta)).build());
            if (!together) {
                f.join();
            }
            futures.add(f);
        }
        List<Got> got = new ArrayList<>();
        for (int i = 0; i < asks.size(); i++) {
            got.add(new Got(futures.get(i).join(), streams.get(i).toString()));
        }
        return got;
    }

    private static void assertSameOutputs(List<Got> plain, List<Got> speculative, String how) {
        for (int i = 0; i < plain.size(); i++) {
            Completion p = plain.get(i).completion();
            Completion s = speculative.get(i).completion();
            String what = how + ", request " + i;
            assertEquals(FinishReason.LENGTH == p.finishReason() || FinishReason.STOP == p.finishReason(), true, p.message());
            assertArrayEquals(p.tokens(), s.tokens(), what);
            assertEquals(p.text(), s.text(), what);
            assertEquals(plain.get(i).streamed(), speculative.get(i).streamed(), what + ": streamed pieces");
            assertEquals(p.finishReason(), s.finishReason(), what);
            if (p.logprobs() != null) {
                assertArrayEquals(p.logprobs(), s.logprobs(), 0f, what + ": log-probs, bit for bit");
            }
        }
    }

    @Test
    void speculativeDecodingGivesEveryRequestThePlainOutputAloneAndInABatch() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            List<Ask> asks = asks(tok);
            List<Got> plain;
            EngineMetrics plainMetrics;
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults())) {
                plain = run(engine, asks, false);
                plainMetrics = engine.metrics();
            }
            assertEquals(FinishReason.STOP, plain.get(2).completion().finishReason(), "the stop string is reached");
            assertEquals(FinishReason.STOP, plain.get(7).completion().finishReason(), "the stop token is reached");
            assertEquals(0, plainMetrics.draftTokens());
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults().withSpeculation(GUESS_4))) {
                List<Got> alone = run(engine, asks, false);
                EngineMetrics m = engine.metrics();
                assertSameOutputs(plain, alone, "alone");
                assertTrue(m.acceptedDraftTokens() > 30, "guesses were kept: " + m.acceptedDraftTokens() + " of " + m.draftTokens());
                assertTrue(m.acceptedDraftTokens() < m.draftTokens(), "and some were not: the check is real");
                assertEquals(plainMetrics.generatedTokens(), m.generatedTokens());
                assertEquals(m.steps() + m.acceptedDraftTokens(), plainMetrics.steps(),
                        "each kept guess saved one step (one request at a time)");
                assertEquals(0, m.kvBlocksUsed());
            }
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults().withSpeculation(GUESS_4))) {
                List<Got> together = run(engine, asks, true);
                assertSameOutputs(plain, together, "eight together");
                assertTrue(together.stream().anyMatch(g -> g.completion().maxBatchSize() > 4), "they ran in one batch");
                assertTrue(engine.metrics().acceptedDraftTokens() > 30);
            }
            // Candidates instead of full logits (the GPU's way) pick the same tokens.
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults().withSpeculation(GUESS_4).withLogitCandidates(true))) {
                List<Got> candidates = run(engine, asks.subList(0, 3), true);
                assertSameOutputs(plain.subList(0, 3), candidates, "from logit candidates");
            }
        }
    }

    @Test
    void speculationStepsAsideWhenMoreSequencesRunThanItsLimit() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            List<Ask> asks = asks(tok).subList(0, 6);
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults().withSpeculation(new Speculation(4, 2, 4, 1)))) {
                run(engine, asks, true);
                EngineMetrics m = engine.metrics();
                // Six start together: guesses come only once all but one have finished.
                try (Engine alone = new Engine(model, tok, EngineConfig.defaults().withSpeculation(new Speculation(4, 2, 4, 1)))) {
                    run(alone, asks, false);
                    assertTrue(m.draftTokens() < alone.metrics().draftTokens(),
                            m.draftTokens() + " guesses together, " + alone.metrics().draftTokens() + " one at a time");
                }
            }
        }
    }

    /** Blocks that kept guesses completed go into the prefix cache holding those tokens' keys and values. */
    @Test
    void blocksCompletedByKeptGuessesServeLaterRequestsFromThePrefixCache() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"));
             LanguageModel model = LlamaModel.load(gguf)) {
            Tokenizer tok = Tokenizers.fromGguf(gguf);
            int[] prompt = tok.encode("Lily and Ben went to the park. Lily and Ben");
            try (Engine engine = new Engine(model, tok, EngineConfig.defaults().withSpeculation(GUESS_4))) {
                Completion first = engine.submit(Request.builder(prompt).params(SamplingParams.greedy(120)).build()).join();
                assertTrue(engine.metrics().acceptedDraftTokens() > 10);
                int[] longer = concat(prompt, Arrays.copyOf(first.tokens(), 100));
                Completion cached = engine.submit(Request.builder(longer).params(SamplingParams.greedy(40).withLogprobs(true))
                        .build()).join();
                assertTrue(cached.cachedPromptTokens() >= 96, "blocks of generated text came from the cache: " + cached.cachedPromptTokens());
                try (Engine fresh = new Engine(model, tok, EngineConfig.defaults().withPrefixCaching(false))) {
                    Completion expected = fresh.submit(Request.builder(longer).params(SamplingParams.greedy(40).withLogprobs(true))
                            .build()).join();
                    assertArrayEquals(expected.tokens(), cached.tokens());
                    assertArrayEquals(expected.logprobs(), cached.logprobs(), 0f);
                }
            }
        }
    }

    @Test
    void guessesSurvivePreemptionAndAKvCacheTooSmallForAll() {
        int requests = 8;
        try (LanguageModel model = TestModels.stories260K()) {
            ModelConfig c = model.config();
            long perBlock = KvStore.bytesPerBlock(c.nLayers(), c.kvDim(), EngineConfig.DEFAULT_BLOCK_SIZE, KvStore.Precision.F32);
            SplittableRandom rnd = new SplittableRandom(4);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < requests; r++) {
                int[] half = TestModels.randomPrompt(rnd, 12, c.vocabSize());
                prompts.add(concat(concat(new int[] {1}, half), half)); // a repeated half: something to look up
            }
            List<int[]> plain = new ArrayList<>();
            try (Engine engine = new Engine(model, null, EngineConfig.defaults())) {
                for (int[] p : prompts) {
                    plain.add(engine.submit(Request.builder(p).params(SamplingParams.greedy(40)).build()).join().tokens());
                }
            }
            EngineConfig small = EngineConfig.defaults().withKvCacheBytes(10 * perBlock).withPrefixCaching(false)
                    .withSpeculation(GUESS_4);
            try (Engine engine = new Engine(model, null, small)) {
                List<CompletableFuture<Completion>> futures = new ArrayList<>();
                for (int[] p : prompts) {
                    futures.add(engine.submit(Request.builder(p).params(SamplingParams.greedy(40)).build()));
                }
                for (int r = 0; r < requests; r++) {
                    Completion done = futures.get(r).join();
                    assertEquals(FinishReason.LENGTH, done.finishReason(), done.message());
                    assertArrayEquals(plain.get(r), done.tokens(), "request " + r);
                }
                EngineMetrics m = engine.metrics();
                assertTrue(m.preemptions() > 0, "the budget forced preemptions");
                assertTrue(m.acceptedDraftTokens() > 0, "guesses were kept: " + m.acceptedDraftTokens() + " of " + m.draftTokens());
                assertEquals(0, m.kvBlocksUsed());
            }
        }
    }

    private static int tokenOf(Tokenizer tok, String piece) {
        for (int id = 0; id < tok.vocabSize(); id++) {
            if (piece.equals(tok.piece(id))) {
                return id;
            }
        }
        throw new AssertionError("no token '" + piece + "'");
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
