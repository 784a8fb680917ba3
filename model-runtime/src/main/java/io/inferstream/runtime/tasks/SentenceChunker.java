package io.inferstream.runtime.tasks;

import io.inferstream.runtime.tokenizer.Tokenizer;

import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Splits a text that is too long for one prompt into chunks of whole sentences
 * ({@link BreakIterator#getSentenceInstance}) of at most {@code maxTokens} tokens each, packing consecutive
 * sentences greedily. A single sentence longer than the budget is split at word boundaries, and a single
 * word longer than that at characters, so every chunk fits.
 */
public final class SentenceChunker {

    private final Tokenizer tokenizer;
    private final Locale locale;

    /** @param language ISO 639 code of the text (sentence rules differ slightly by language), or null */
    public SentenceChunker(Tokenizer tokenizer, String language) {
        this.tokenizer = tokenizer;
        this.locale = language == null ? Locale.ROOT : Locale.forLanguageTag(language.replace('_', '-'));
    }

    /** Tokens of {@code text} on its own (no BOS), as it counts towards a prompt. */
    public int tokens(String text) {
        return tokenizer.encode(text, false, false).length;
    }

    /** The text's sentences, each with the whitespace that follows it (so joining them gives the text back). */
    public List<String> sentences(String text) {
        return split(text, BreakIterator.getSentenceInstance(locale));
    }

    public List<String> chunks(String text, int maxTokens) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("chunk budget must be at least 1 token, got " + maxTokens);
        }
        List<String> chunks = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String sentence : sentences(text)) {
            String candidate = current + sentence;
            if (tokens(candidate.strip()) <= maxTokens) {
                current.append(sentence);
                continue;
            }
            flush(current, chunks);
            if (tokens(sentence.strip()) <= maxTokens) {
                current.append(sentence);
            } else {
                for (String piece : splitLong(sentence, maxTokens)) {
                    chunks.add(piece);
                }
            }
        }
        flush(current, chunks);
        return chunks;
    }

    private static void flush(StringBuilder current, List<String> chunks) {
        String s = current.toString().strip();
        if (!s.isEmpty()) {
            chunks.add(s);
        }
        current.setLength(0);
    }

    /** A sentence over the budget: words packed greedily, a word over the budget cut by characters. */
    private List<String> splitLong(String sentence, int maxTokens) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String word : split(sentence, BreakIterator.getWordInstance(locale))) {
            if (tokens((current + word).strip()) <= maxTokens) {
                current.append(word);
                continue;
            }
            flush(current, out);
            if (tokens(word.strip()) <= maxTokens) {
                current.append(word);
            } else {
                int start = 0;
                while (start < word.length()) {
                    int end = start + 1;
                    while (end < word.length() && tokens(word.substring(start, end + 1).strip()) <= maxTokens) {
                        end++;
                    }
                    if (Character.isHighSurrogate(word.charAt(end - 1)) && end < word.length()) {
                        end++;
                    }
                    String part = word.substring(start, end).strip();
                    if (!part.isEmpty()) {
                        out.add(part);
                    }
                    start = end;
                }
            }
        }
        flush(current, out);
        return out;
    }

    private static List<String> split(String text, BreakIterator it) {
        it.setText(text);
        List<String> parts = new ArrayList<>();
        int start = it.first();
        for (int end = it.next(); end != BreakIterator.DONE; start = end, end = it.next()) {
            parts.add(text.substring(start, end));
        }
        return parts;
    }
}
