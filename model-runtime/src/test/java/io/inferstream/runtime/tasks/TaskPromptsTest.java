package io.inferstream.runtime.tasks;

import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Prompt templates: zero-/few-shot, instruction override, language names, chat templates. */
class TaskPromptsTest {

    private static Tokenizer qwenTokenizer; // loaded by the tests that need it (shared data: skipped with the reason without it)

    private static synchronized Tokenizer qwenTokenizer() {
        if (qwenTokenizer == null) {
            qwenTokenizer = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        }
        return qwenTokenizer;
    }

    @Test
    void languageNamesComeFromIsoCodesInEnglish() {
        assertEquals("Chinese", LanguageNames.english("zh"));
        assertEquals("French", LanguageNames.english("fr"));
        assertEquals("German", LanguageNames.english("de"));
        assertEquals("English", LanguageNames.english("en"));
        assertEquals("Portuguese", LanguageNames.english("pt_BR"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LanguageNames.english("qqx"));
        assertTrue(e.getMessage().contains("qqx"));
        assertTrue(LanguageNames.writtenWithoutSpaces("zh"));
        assertFalse(LanguageNames.writtenWithoutSpaces("fr"));
    }

    @Test
    void plainPromptsAreZeroShotByDefaultWithFieldsAndStopRules() {
        TaskPrompts prompts = new TaskPrompts(qwenTokenizer(), ChatTemplate.plain(), TaskDefaults.standard());
        TaskPrompt t = prompts.build(TaskRequest.builder("t", Task.TRANSLATE, "Bonjour.").sourceLanguage("fr").targetLanguage("zh").build(), "Bonjour.");
        assertEquals("Translate the text from French to Chinese.\n\nFrench: Bonjour.\nChinese:", t.text());
        assertEquals(List.of("\n"), t.stopStrings(), "a one-line input gets a one-line answer");
        TaskPrompt multi = prompts.build(TaskRequest.builder("t", Task.TRANSLATE, "x").sourceLanguage("fr").targetLanguage("zh").build(), "Bonjour.\nMerci.");
        assertEquals(List.of("\n\n", "\nFrench:"), multi.stopStrings(), "a multi-line answer ends at a blank line or the next input");
        assertEquals("Chinese:", t.answerCue());
        TaskPrompt s = prompts.build(TaskRequest.builder("s", Task.SUMMARIZE, "A long text.").style("three words").build(), "A long text.");
        assertEquals("Summarize the text in three words.\n\nText: A long text.\nSummary:", s.text());
        TaskPrompt d = prompts.build(TaskRequest.builder("s", Task.SUMMARIZE, "X.").build(), "X.");
        assertTrue(d.text().startsWith("Summarize the text in one sentence.\n\n"));
    }

    @Test
    void instructionOverridesTheDefaultAndExamplesMakeItFewShot() {
        TaskDefaults defaults = TaskDefaults.standard().withExamples(Task.CLASSIFY, List.of(new FewShotExample("I love it.", "positive")));
        TaskPrompts prompts = new TaskPrompts(qwenTokenizer(), ChatTemplate.plain(), defaults);
        TaskRequest job = TaskRequest.builder("c", Task.CLASSIFY, "Awful.").labels(List.of("positive", "negative"))
                .instruction("Is the review positive or negative?").build();
        assertEquals("Is the review positive or negative?\n\nText: I love it.\nLabel: positive\n\nText: Awful.\nLabel:",
                prompts.build(job, "Awful.").text());
        TaskRequest own = TaskRequest.builder("c", Task.CLASSIFY, "Awful.").labels(List.of("positive", "negative"))
                .examples(List.of(new FewShotExample("Meh.", "negative"), new FewShotExample("Great!", "positive"))).build();
        assertEquals("Classify the text as one of: positive, negative.\n\nText: Meh.\nLabel: negative\n\n"
                        + "Text: Great!\nLabel: positive\n\nText: Awful.\nLabel:",
                prompts.build(own, "Awful.").text(), "the request's examples replace the job's");
    }

    @Test
    void chatModelsGetTheirTemplateWithExamplesAsTurns() {
        ChatTemplate qwen = ChatTemplate.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        assertFalse(qwen.isPlain());
        TaskPrompts prompts = new TaskPrompts(qwenTokenizer(), qwen, TaskDefaults.standard());
        TaskRequest r = TaskRequest.builder("c", Task.CLASSIFY, "Awful.").labels(List.of("positive", "negative"))
                .examples(List.of(new FewShotExample("Great!", "positive"))).build();
        TaskPrompt p = prompts.build(r, "Awful.");
        String instruction = "Classify the text as one of: positive, negative.\n\n";
        assertTrue(p.text().contains("<|im_start|>user\n" + instruction + "Great!<|im_end|>\n<|im_start|>assistant\npositive<|im_end|>\n"
                + "<|im_start|>user\n" + instruction + "Awful.<|im_end|>\n"), p.text());
        assertTrue(p.text().endsWith("<|im_start|>assistant\n"), p.text());
        assertTrue(p.parseSpecial());
        assertEquals("", p.answerJoiner(), "the label starts the assistant turn");
        assertEquals(List.of(), p.stopStrings(), "<|im_end|> (end of generation) ends the answer");
        int[] tokens = prompts.encode(p);
        assertEquals(qwenTokenizer().encode("<|im_start|>", false, true)[0], tokens[0] == qwenTokenizer().bos() ? tokens[1] : tokens[0]);
    }

    @Test
    void classifySummarizeAndTranslateTurnThinkingOffWhileGenerateKeepsTheTemplatesDefault() {
        ChatTemplate marker = new ChatTemplate("{% for m in messages %}{{ m.content }}|{% endfor %}"
                + "{% if enable_thinking is defined and enable_thinking is false %}<no-think>"
                + "{% elif enable_thinking is defined %}<think>{% else %}<template default>{% endif %}", "", "");
        TaskPrompts prompts = new TaskPrompts(qwenTokenizer(), marker, TaskDefaults.standard());
        List<TaskRequest> answerAtOnce = List.of(
                TaskRequest.builder("c", Task.CLASSIFY, "Awful.").labels(List.of("positive", "negative")).build(),
                TaskRequest.builder("s", Task.SUMMARIZE, "A long text.").build(),
                TaskRequest.builder("t", Task.TRANSLATE, "Bonjour.").targetLanguage("en").build());
        for (TaskRequest r : answerAtOnce) {
            String text = prompts.build(r, r.text()).text();
            assertTrue(text.endsWith("|<no-think>"), r.task() + ": " + text);
        }
        TaskRequest generate = TaskRequest.builder("g", Task.GENERATE, "Tell me a story.").build();
        assertEquals("Tell me a story.|<template default>", prompts.build(generate, generate.text()).text());
    }
}
