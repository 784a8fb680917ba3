package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The default tokenizer of Google's {@code rouge_score} ({@code tokenize.tokenize}): lower-case, replace
 * every run of characters outside {@code [a-z0-9]} with a space, split on whitespace, optionally Porter-stem
 * tokens longer than 3 characters, and keep only non-empty {@code [a-z0-9]+} tokens.
 *
 * <p>Consequence, kept on purpose so that scores match the reference: any non-ASCII letter is dropped,
 * so Chinese (or accented French/German letters) vanish — "café" becomes "caf", a Chinese sentence has no
 * tokens at all. Use {@link UnicodeWordTokenizer} for such text.
 */
public final class RougeTokenizer implements MetricTokenizer {

    private static final Pattern NON_ALPHANUMERIC = Pattern.compile("[^a-z0-9]+");
    private static final Pattern SPACES = Pattern.compile("\\s+");
    private static final Pattern VALID_TOKEN = Pattern.compile("[a-z0-9]+");

    private final PorterStemmer stemmer;

    private RougeTokenizer(PorterStemmer stemmer) {
        this.stemmer = stemmer;
    }

    /** rouge_score's default: {@code RougeScorer(types)} with {@code use_stemmer=False}. */
    public static RougeTokenizer standard() {
        return new RougeTokenizer(null);
    }

    /** {@code RougeScorer(types, use_stemmer=True)}: Porter stems of tokens longer than 3 characters. */
    public static RougeTokenizer stemming() {
        return new RougeTokenizer(new PorterStemmer());
    }

    public boolean stems() {
        return stemmer != null;
    }

    @Override
    public List<String> tokenize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        String spaced = NON_ALPHANUMERIC.matcher(lower).replaceAll(" ");
        List<String> tokens = new ArrayList<>();
        for (String raw : SPACES.split(spaced)) {
            String token = stemmer != null && raw.length() > 3 ? stemmer.stem(raw) : raw;
            if (VALID_TOKEN.matcher(token).matches()) {
                tokens.add(token);
            }
        }
        return tokens;
    }
}
