package io.inferstream.runtime.sampling;

import java.util.List;
import java.util.Set;
import java.util.HashSet;

import io.inferstream.runtime.tokenizer.Tokenizer;

/**
 * The stop rules of one sequence: end-of-generation tokens (the vocabulary's own and the request's
 * extra ids) and stop strings. Text is fed in as the streaming decoder releases it; what comes back is
 * the text that may be shown now. Text that could still turn out to be the start of a stop string is
 * held back, so a stop string is never streamed and then taken back; when one appears, the text is cut
 * just before it.
 */
public final class StopChecker {

    private final Tokenizer tokenizer;
    private final Set<Integer> stopTokens;
    private final List<String> stopStrings;
    private final StringBuilder text = new StringBuilder(); // everything accepted, cut at a stop string
    private int released;                                   // chars of text already handed out
    private boolean stopped;

    public StopChecker(SamplingParams params, Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.stopTokens = new HashSet<>(params.stopTokens());
        this.stopStrings = params.stopStrings().stream().filter(s -> !s.isEmpty()).toList();
    }

    /** True when this token ends generation (it is not part of the text). */
    public boolean isStopToken(int id) {
        return stopTokens.contains(id) || (tokenizer != null && tokenizer.isEndOfGeneration(id));
    }

    /**
     * Adds newly decoded text.
     *
     * @return the text that can be released now (possibly empty); after a stop string it is cut before the stop string
     */
    public String accept(String piece) {
        if (stopped || piece.isEmpty()) {
            return "";
        }
        text.append(piece);
        int cut = -1;
        for (String s : stopStrings) {
            int at = text.indexOf(s, released);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            text.setLength(cut);
            stopped = true;
            return release(cut);
        }
        return release(text.length() - heldBack());
    }

    /** Releases whatever is still held back (call once generation ended for another reason). */
    public String finish() {
        return release(text.length());
    }

    /** Whether a stop string has been seen. */
    public boolean stopped() {
        return stopped;
    }

    /** The text so far, without any stop string. */
    public String text() {
        return text.toString();
    }

    /** Length of the longest unreleased suffix of the text that is a proper prefix of a stop string. */
    private int heldBack() {
        int best = 0;
        int len = text.length();
        for (String s : stopStrings) {
            int max = Math.min(s.length() - 1, len - released);
            for (int k = max; k > best; k--) {
                if (s.regionMatches(0, text.substring(len - k), 0, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }

    private String release(int upTo) {
        if (upTo <= released) {
            return "";
        }
        String out = text.substring(released, upTo);
        released = upTo;
        return out;
    }
}
