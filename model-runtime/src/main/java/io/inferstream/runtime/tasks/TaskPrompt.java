package io.inferstream.runtime.tasks;

import java.util.List;

/**
 * A rendered prompt, ready to encode, and what the runner needs to read the answer that follows it.
 *
 * @param text          the prompt text (through the chat template when the model has one)
 * @param addBos        encode with BOS in front (false when the chat template already wrote it)
 * @param parseSpecial  encode special tokens written as text (chat templates write them)
 * @param answerJoiner  text between the prompt and an answer (" " after a plain "Label:" cue, "" after a
 *                      chat template's assistant header): a label is scored as {@code text + answerJoiner + label}
 * @param answerCue     the cue the answer follows ("Summary:"), removed if the model repeats it; "" for none
 * @param stopStrings   text that ends the answer (a blank line, the next "Text:" field) for plain prompts; the
 *                      model's end-of-generation tokens always end it
 */
public record TaskPrompt(String text, boolean addBos, boolean parseSpecial, String answerJoiner, String answerCue,
                         List<String> stopStrings) {

    public TaskPrompt {
        stopStrings = List.copyOf(stopStrings);
    }
}
