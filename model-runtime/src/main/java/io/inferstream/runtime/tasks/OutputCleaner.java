package io.inferstream.runtime.tasks;

/**
 * Turns generated text into the answer: a repeated answer cue ("Summary:") or an echo of the input at the
 * start is removed, the text is cut at the first blank line (a plain-prompt model that ran to its token limit
 * has usually started something else there), and whitespace is trimmed.
 */
public final class OutputCleaner {

    private OutputCleaner() {
    }

    /**
     * @param generated the engine's text (a stop string already cut off)
     * @param cue       the prompt's answer cue, or ""
     * @param input     the text the prompt was about (echoed inputs are dropped), or null
     * @param cutAtBlankLine end the answer at a blank line (plain prompts; chat answers may have paragraphs)
     */
    public static String clean(String generated, String cue, String input, boolean cutAtBlankLine) {
        String s = generated.strip();
        if (!cue.isEmpty() && s.startsWith(cue)) {
            s = s.substring(cue.length()).strip();
        }
        if (input != null && !input.isBlank() && s.startsWith(input.strip())) {
            s = s.substring(input.strip().length()).strip();
            if (!cue.isEmpty() && s.startsWith(cue)) {
                s = s.substring(cue.length()).strip();
            }
        }
        if (cutAtBlankLine) {
            int blank = s.indexOf("\n\n");
            if (blank >= 0) {
                s = s.substring(0, blank);
            }
        }
        return s.strip();
    }
}
