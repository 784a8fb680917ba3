package io.inferstream.jobs.digest;

import java.io.Serializable;
import picocli.CommandLine.Option;

/**
 * What the digest job asks the model (a picocli mixin, shared by {@code inferstream digest} and
 * {@code inferstream replay --digest}). The task layer's default SUMMARIZE instruction ("Summarize the text
 * in one sentence.") is written for prose; a window's text is a transcript, one {@code author: text} line per
 * message, and what a reader of a digest wants from it is who wanted or decided what.
 */
public final class DigestSummaryOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The default instruction: the transcript's format, then what the digest should say. */
    public static final String CHAT_INSTRUCTION = "The text is a chat conversation, one 'author: message' line per message."
            + " Summarize it in one or two sentences: what was asked or discussed, what was decided and by whom,"
            + " and what is still open.";

    @Option(names = "--instruction", paramLabel = "TEXT",
            description = "The instruction each window's transcript (one 'author: message' line per message) is summarized with; for a map-reduce over a long window it also combines the partial summaries (default: a chat summary: who asked, decided or left open what, in one or two sentences).")
    public String instruction = CHAT_INSTRUCTION;

    /** The instruction, checked: blank would leave the model only the transcript. */
    public String instruction() {
        if (instruction == null || instruction.isBlank()) {
            throw new IllegalArgumentException("--instruction must not be blank");
        }
        return instruction.strip();
    }
}
