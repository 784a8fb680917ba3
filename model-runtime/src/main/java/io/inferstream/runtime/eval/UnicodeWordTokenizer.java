package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A Unicode-aware metric tokenizer for text that {@link RougeTokenizer} would erase (Chinese, Japanese,
 * accented Latin letters): lower-case; every CJK ideograph (and Hiragana or Katakana letter) is a token of its
 * own (Chinese has no spaces, and character-level overlap is the usual ROUGE convention
 * for it; Korean, written with spaces, stays in runs); any other run of letters and digits (Unicode {@code isLetterOrDigit}, plus combining marks
 * inside a run) is one token; everything else (spaces, punctuation, full-width punctuation) separates.
 *
 * <p>With stemming on, tokens longer than 3 characters made only of {@code a-z} are Porter-stemmed, as
 * rouge_score does; other tokens are left as they are.
 */
public final class UnicodeWordTokenizer implements MetricTokenizer {

    private final PorterStemmer stemmer;

    private UnicodeWordTokenizer(PorterStemmer stemmer) {
        this.stemmer = stemmer;
    }

    public static UnicodeWordTokenizer standard() {
        return new UnicodeWordTokenizer(null);
    }

    public static UnicodeWordTokenizer stemming() {
        return new UnicodeWordTokenizer(new PorterStemmer());
    }

    @Override
    public List<String> tokenize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        List<String> tokens = new ArrayList<>();
        StringBuilder run = new StringBuilder();
        int i = 0;
        while (i < lower.length()) {
            int cp = lower.codePointAt(i);
            i += Character.charCount(cp);
            if (isSingleCharacterToken(cp)) {
                flush(run, tokens);
                tokens.add(new String(Character.toChars(cp)));
            } else if (Character.isLetterOrDigit(cp) || (run.length() > 0 && isCombiningMark(cp))) {
                run.appendCodePoint(cp);
            } else {
                flush(run, tokens);
            }
        }
        flush(run, tokens);
        return tokens;
    }

    private void flush(StringBuilder run, List<String> tokens) {
        if (run.length() == 0) {
            return;
        }
        String token = run.toString();
        run.setLength(0);
        if (stemmer != null && token.length() > 3 && isAsciiLowerLetters(token)) {
            token = stemmer.stem(token);
        }
        tokens.add(token);
    }

    private static boolean isAsciiLowerLetters(String token) {
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c < 'a' || c > 'z') {
                return false;
            }
        }
        return true;
    }

    private static boolean isCombiningMark(int cp) {
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    /** Scripts written without spaces between words: one character, one token. */
    private static boolean isSingleCharacterToken(int cp) {
        Character.UnicodeScript script = Character.UnicodeScript.of(cp);
        return (script == Character.UnicodeScript.HAN
                || script == Character.UnicodeScript.HIRAGANA
                || script == Character.UnicodeScript.KATAKANA)
                && (Character.isLetter(cp) || Character.getType(cp) == Character.LETTER_NUMBER);
    }
}
