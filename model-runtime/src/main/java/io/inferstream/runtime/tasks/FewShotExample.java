package io.inferstream.runtime.tasks;

import java.util.Objects;

/**
 * One worked example shown before the real input (few-shot prompting): an input text and the answer the
 * model should give for it (a label, a summary, a translation).
 */
public record FewShotExample(String input, String output) {

    public FewShotExample {
        Objects.requireNonNull(input, "few-shot example input");
        Objects.requireNonNull(output, "few-shot example output");
    }
}
