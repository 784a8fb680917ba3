package io.inferstream.runtime.tasks;

import io.inferstream.runtime.tokenizer.ChatMessage;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds each task's prompt from its template: an instruction (the task's default, or the request's
 * {@code instruction}), the few-shot examples if any (the request's, else the job's), then the input.
 *
 * <p>For a model with a chat template every example is a user/assistant turn and the answer is the
 * assistant's next turn. A model without one (a base model) gets a plain prompt of labelled fields that
 * ends with the answer's cue; the answer ends at the line end when the input is one line, else at a blank
 * line or at the next input field:
 * <pre>
 * Summarize the text in one sentence.
 *
 * Text: {example input}
 * Summary: {example output}
 *
 * Text: {input}
 * Summary:</pre>
 */
public final class TaskPrompts {

    /** Template variables of the tasks whose answer must come at once: transformers' {@code enable_thinking=False}. */
    private static final Map<String, Object> NO_THINKING = Map.of("enable_thinking", false);

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final TaskDefaults defaults;

    public TaskPrompts(Tokenizer tokenizer, ChatTemplate template, TaskDefaults defaults) {
        this.tokenizer = tokenizer;
        this.template = template == null ? ChatTemplate.plain() : template;
        this.defaults = defaults;
    }

    /** The default instruction of the request's task (what {@code instruction} replaces). */
    public String defaultInstruction(TaskRequest r) {
        return switch (r.task()) {
            case CLASSIFY -> "Classify the text as one of: " + String.join(", ", r.labels()) + ".";
            case SUMMARIZE -> "Summarize the text in " + (r.style() != null ? r.style() : defaults.summaryStyle()) + ".";
            case TRANSLATE -> r.sourceLanguage() == null
                    ? "Translate the text into " + LanguageNames.english(r.targetLanguage()) + "."
                    : "Translate the text from " + LanguageNames.english(r.sourceLanguage()) + " to "
                            + LanguageNames.english(r.targetLanguage()) + ".";
            case GENERATE -> "";
        };
    }

    /** The prompt for {@code input} (the request's text, or one chunk of it). */
    public TaskPrompt build(TaskRequest r, String input) {
        String instruction = r.instruction() != null ? r.instruction() : defaultInstruction(r);
        List<FewShotExample> examples = r.examples().isEmpty() ? defaults.examples().get(r.task()) : r.examples();
        return template.isPlain() ? plain(r, instruction, examples, input) : chat(r, instruction, examples, input);
    }

    private TaskPrompt plain(TaskRequest r, String instruction, List<FewShotExample> examples, String input) {
        boolean bos = tokenizer.bos() >= 0 && tokenizer.addBosByDefault();
        if (r.task() == Task.GENERATE) {
            // A base model continues the text; an instruction goes in front of it.
            String text = instruction.isEmpty() ? input : instruction + "\n\n" + input;
            return new TaskPrompt(text, bos, false, "", "", List.of());
        }
        String inField = inputField(r);
        String outField = outputField(r);
        StringBuilder sb = new StringBuilder(instruction).append("\n\n");
        for (FewShotExample e : examples) {
            sb.append(inField).append(": ").append(e.input()).append('\n')
                    .append(outField).append(": ").append(e.output()).append("\n\n");
        }
        sb.append(inField).append(": ").append(input).append('\n').append(outField).append(':');
        // A one-line input gets a one-line answer (the examples' format); a longer one ends at a blank line or
        // where the model starts the next input field.
        List<String> stops = input.contains("\n") ? List.of("\n\n", "\n" + inField + ":") : List.of("\n");
        return new TaskPrompt(sb.toString(), bos, false, " ", outField + ":", stops);
    }

    private TaskPrompt chat(TaskRequest r, String instruction, List<FewShotExample> examples, String input) {
        List<ChatMessage> messages = new ArrayList<>();
        for (FewShotExample e : examples) {
            messages.add(ChatMessage.user(userTurn(instruction, e.input())));
            messages.add(ChatMessage.assistant(e.output()));
        }
        messages.add(ChatMessage.user(userTurn(instruction, input)));
        // A classification, summary or translation is the answer itself: a reasoning model's template is asked to
        // close its thinking block (and a label is scored as the continuation right after the prompt).
        String text = template.render(messages, true, r.task() == Task.GENERATE ? Map.of() : NO_THINKING);
        boolean bos = tokenizer.bos() >= 0 && tokenizer.addBosByDefault();
        String bosPiece = tokenizer.bos() >= 0 ? tokenizer.piece(tokenizer.bos()) : "";
        if (!bosPiece.isEmpty() && text.startsWith(bosPiece)) {
            bos = false; // the template wrote BOS itself
        }
        return new TaskPrompt(text, bos, true, "", "", List.of());
    }

    private static String userTurn(String instruction, String input) {
        return instruction.isEmpty() ? input : instruction + "\n\n" + input;
    }

    /** Name of the input field of a plain prompt: the source language's name for a translation. */
    private static String inputField(TaskRequest r) {
        if (r.task() == Task.TRANSLATE && r.sourceLanguage() != null) {
            return LanguageNames.english(r.sourceLanguage());
        }
        return "Text";
    }

    private static String outputField(TaskRequest r) {
        return switch (r.task()) {
            case CLASSIFY -> "Label";
            case SUMMARIZE -> "Summary";
            case TRANSLATE -> LanguageNames.english(r.targetLanguage());
            case GENERATE -> "";
        };
    }

    /** Encodes a prompt as the runner does. */
    public int[] encode(TaskPrompt p) {
        return tokenizer.encode(p.text(), p.addBos(), p.parseSpecial());
    }
}
