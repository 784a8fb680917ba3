package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** SUMMARIZE and TRANSLATE on stories260K: prompts, stop rules, clean-up, token counts, chunking. */
class GenerationTaskTest {

    private static final int MAX_NEW = 16;
    private static final String LONG_STORY = "Tom had a red ball. He liked to play with it in the park. One day the ball rolled into the pond. "
            + "Tom was sad and he cried. A big duck swam to the ball. The duck pushed the ball back to Tom. Tom was very happy. "
            + "He said thank you to the duck. The duck quacked and swam away. Tom went home with his ball. His mom gave him a cookie. "
            + "Tom told his mom about the kind duck. Mom smiled and hugged him. The next day Tom went to the park again. "
            + "He looked for the duck but it was not there. Then he saw the duck with its babies. Tom waved at them and laughed. "
            + "He played with his ball until the sun went down.";

    private static LlamaModel model;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        model = Stories260K.model();
        tokenizer = Stories260K.tokenizer();
    }

    private static TaskRunner runner(Engine engine, TaskDefaults defaults) {
        return new TaskRunner(engine, model.config(), tokenizer, ChatTemplate.plain(), defaults, "stories260K");
    }

    /**
     * Runs the request and checks it against the engine generating from the literal prompt without any stop:
     * the answer is that text up to the first line end, trimmed, and the token count is where the line ended.
     */
    private static boolean checkOneLineAnswer(Engine engine, TaskRunner runner, TaskRequest request, String expectedPrompt) {
        TaskResult result = runner.run(request).join();
        assertNull(result.error());
        int[] promptTokens = tokenizer.encode(expectedPrompt);
        Completion free = engine.submit(Request.builder(promptTokens).params(SamplingParams.greedy(MAX_NEW)).build()).join();
        String raw = free.text();
        int newline = raw.indexOf('\n');
        assertEquals((newline >= 0 ? raw.substring(0, newline) : raw).strip(), result.output(), "answer of " + request.id());
        assertEquals(promptTokens.length, result.promptTokens(), "prompt of " + request.id());
        assertEquals(1, result.chunks());
        if (newline >= 0) {
            int k = 1;
            while (!tokenizer.decode(Arrays.copyOf(free.tokens(), k)).contains("\n")) {
                k++;
            }
            assertEquals(FinishReason.STOP, result.finishReason());
            assertEquals(k, result.completionTokens(), "generation stopped at the token that ended the line");
        } else {
            assertEquals(FinishReason.LENGTH, result.finishReason());
            assertEquals(MAX_NEW, result.completionTokens());
        }
        assertEquals(result.output().strip(), result.output());
        return newline >= 0;
    }

    @Test
    void summariesAndTranslationsFollowTheirPromptStopAtTheLineEndAndAreCleaned() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard());
            int stopped = 0;
            String text = "The sun was hot. Ben ate ice cream.";
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("s-1", Task.SUMMARIZE, text).maxNewTokens(MAX_NEW).build(),
                    "Summarize the text in one sentence.\n\nText: " + text + "\nSummary:") ? 1 : 0;
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("s-2", Task.SUMMARIZE, "The dog barked at the bird.").maxNewTokens(MAX_NEW).build(),
                    "Summarize the text in one sentence.\n\nText: The dog barked at the bird.\nSummary:") ? 1 : 0;
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("s-3", Task.SUMMARIZE, "Tom had a red ball.").style("five words").maxNewTokens(MAX_NEW).build(),
                    "Summarize the text in five words.\n\nText: Tom had a red ball.\nSummary:") ? 1 : 0;
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("t-1", Task.TRANSLATE, "Mom said no. Tim cried.").sourceLanguage("en").targetLanguage("fr")
                            .maxNewTokens(MAX_NEW).build(),
                    "Translate the text from English to French.\n\nEnglish: Mom said no. Tim cried.\nFrench:") ? 1 : 0;
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("t-2", Task.TRANSLATE, "他每天骑自行车上班。").sourceLanguage("zh").targetLanguage("en")
                            .maxNewTokens(MAX_NEW).build(),
                    "Translate the text from Chinese to English.\n\nChinese: 他每天骑自行车上班。\nEnglish:") ? 1 : 0;
            stopped += checkOneLineAnswer(engine, runner,
                    TaskRequest.builder("t-3", Task.TRANSLATE, "Sue and Ben went to the park.").instruction("Say it in German.")
                            .sourceLanguage("en").targetLanguage("de").maxNewTokens(MAX_NEW).build(),
                    "Say it in German.\n\nEnglish: Sue and Ben went to the park.\nGerman:") ? 1 : 0;
            assertTrue(stopped >= 2, "the line-end stop rule ended at least the two answers chosen to reach one; stopped " + stopped);
        }
    }

    @Test
    void generateContinuesTheTextAndSamplesReproduciblyWithoutASeed() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard());
            String text = "Once upon a time, there was a little girl named Lily.";
            TaskResult greedy = runner.run(TaskRequest.builder("g-1", Task.GENERATE, text).temperature(0f).maxNewTokens(MAX_NEW).build()).join();
            int[] prompt = tokenizer.encode(text);
            Completion reference = engine.submit(Request.builder(prompt).params(SamplingParams.greedy(MAX_NEW)).build()).join();
            assertEquals(reference.text().strip(), greedy.output());
            assertEquals(prompt.length, greedy.promptTokens());
            assertEquals(reference.tokens().length, greedy.completionTokens());
            assertEquals(reference.finishReason(), greedy.finishReason());
            // Default sampling (temperature 0.8): the seed comes from the id, so a replay gives the same text.
            TaskResult a = runner.run(TaskRequest.builder("g-2", Task.GENERATE, text).maxNewTokens(MAX_NEW).build()).join();
            TaskResult b = runner.run(TaskRequest.builder("g-2", Task.GENERATE, text).maxNewTokens(MAX_NEW).build()).join();
            assertEquals(a.output(), b.output());
            Completion seeded = engine.submit(Request.builder(prompt).params(TaskDefaults.standard().samplingFor(Task.GENERATE)
                    .withMaxNewTokens(MAX_NEW).withSeed("g-2".hashCode())).build()).join();
            assertEquals(seeded.text().strip(), a.output());
        }
    }

    /**
     * Chunks of the story by the documented rule, counted here on their own: sentences packed greedily while
     * the chunk has at most {@code context - maxNew - prompt overhead - 4} tokens.
     */
    private static int expectedChunks(int context, String emptyPrompt) {
        int budget = context - MAX_NEW - tokenizer.encode(emptyPrompt).length - 4;
        String[] sentences = LONG_STORY.split("(?<=\\.) ");
        int chunks = 0;
        String current = "";
        for (String sentence : sentences) {
            String candidate = current.isEmpty() ? sentence : current + " " + sentence;
            if (tokenizer.encode(candidate, false, false).length <= budget) {
                current = candidate;
            } else {
                chunks++;
                current = sentence;
            }
        }
        return chunks + 1;
    }

    @Test
    void aLongSummaryIsMapReducedOverSentenceChunksInASmallContext() {
        int context = 128;
        assertTrue(tokenizer.encode(LONG_STORY).length > 2 * context, "the story needs several chunks");
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard().withContextTokens(context));
            long before = engine.metrics().finished();
            TaskResult result = runner.run(TaskRequest.builder("long-1", Task.SUMMARIZE, LONG_STORY).maxNewTokens(MAX_NEW).build()).join();
            long calls = engine.metrics().finished() - before;
            assertNull(result.error());
            assertEquals(expectedChunks(context, "Summarize the text in one sentence.\n\nText: \nSummary:"), result.chunks());
            assertTrue(result.chunks() >= 3, "chunks: " + result.chunks());
            assertTrue(calls >= result.chunks() + 1, "every chunk summarised, then the partial summaries combined: " + calls + " calls");
            assertTrue(result.promptTokens() > tokenizer.encode(LONG_STORY).length, "every chunk of the story was read");
            assertTrue(result.completionTokens() >= calls && result.completionTokens() <= calls * MAX_NEW);
            assertNotEquals(FinishReason.ERROR, result.finishReason());
        }
    }

    @Test
    void aLongTranslationIsSplitBySentenceAndJoined() {
        int context = 96;
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard().withContextTokens(context));
            long before = engine.metrics().finished();
            TaskResult result = runner.run(TaskRequest.builder("long-2", Task.TRANSLATE, LONG_STORY).sourceLanguage("en")
                    .targetLanguage("fr").maxNewTokens(MAX_NEW).build()).join();
            long calls = engine.metrics().finished() - before;
            assertNull(result.error());
            assertEquals(expectedChunks(context, "Translate the text from English to French.\n\nEnglish: \nFrench:"), result.chunks());
            assertTrue(result.chunks() >= 4, "chunks: " + result.chunks());
            assertEquals(result.chunks(), calls, "one engine call per chunk");
            assertTrue(result.completionTokens() >= calls && result.completionTokens() <= calls * MAX_NEW);
        }
    }

    @Test
    void anInputThatCannotBeChunkedIntoTheContextFailsWithAReason() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard().withContextTokens(40));
            TaskResult result = runner.run(TaskRequest.builder("tiny", Task.SUMMARIZE, LONG_STORY).maxNewTokens(MAX_NEW).build()).join();
            assertEquals(FinishReason.ERROR, result.finishReason());
            assertTrue(result.error().contains("context of 40 tokens"), result.error());
        }
    }

    /** A sampling value out of its range fails that request with the value's name; the next request still runs. */
    @Test
    void aSamplingValueOutOfRangeFailsTheRequestWithItsName() {
        try (Engine engine = new Engine(model, tokenizer, EngineConfig.defaults())) {
            TaskRunner runner = runner(engine, TaskDefaults.standard());
            TaskResult bad = runner.run(TaskRequest.builder("bad-p", Task.GENERATE, "Lily").topP(1.5f).maxNewTokens(MAX_NEW)
                    .build()).join();
            assertEquals(FinishReason.ERROR, bad.finishReason());
            assertEquals("top-p must be in (0, 1] (1 = off), got 1.5", bad.error());
            TaskResult good = runner.run(TaskRequest.builder("good", Task.GENERATE, "Lily").temperature(0f)
                    .maxNewTokens(MAX_NEW).build()).join();
            assertNotEquals(FinishReason.ERROR, good.finishReason());
            assertFalse(good.output().isEmpty());
        }
    }
}
