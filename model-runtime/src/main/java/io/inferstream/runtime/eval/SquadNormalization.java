package io.inferstream.runtime.eval;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The answer normalisation of the official SQuAD evaluation script ({@code normalize_answer}): lower-case,
 * remove ASCII punctuation ({@code string.punctuation}), remove the articles "a", "an", "the" as whole
 * words, and collapse whitespace to single spaces (trimmed).
 */
public final class SquadNormalization {

    /** Python's string.punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ */
    private static final Pattern PUNCTUATION = Pattern.compile("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]");
    /** re.compile(r'\b(a|an|the)\b', re.UNICODE): word boundaries over Unicode word characters. */
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private SquadNormalization() {
    }

    public static String normalize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        String noPunctuation = PUNCTUATION.matcher(lower).replaceAll("");
        String noArticles = ARTICLES.matcher(noPunctuation).replaceAll(" ");
        return String.join(" ", tokens(noArticles));
    }

    /** SQuAD's {@code get_tokens}: the whitespace-separated words of the normalised text. */
    public static List<String> normalizedTokens(String text) {
        return tokens(normalize(text));
    }

    private static List<String> tokens(String text) {
        // Python's str.split(): Unicode whitespace separates, no empty tokens at either end.
        return Arrays.stream(WHITESPACE.split(text)).filter(t -> !t.isEmpty()).toList();
    }
}
