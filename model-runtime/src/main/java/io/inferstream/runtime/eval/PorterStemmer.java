package io.inferstream.runtime.eval;

import java.util.Locale;

/**
 * The Porter (1980) suffix-stripping stemmer, as NLTK's {@code PorterStemmer(mode=ORIGINAL_ALGORITHM)}
 * implements it: the stemmer Google's {@code rouge_score} uses when {@code use_stemmer=True}.
 *
 * <p>Ported step by step from NLTK (steps 1a, 1b, 1c, 2, 3, 4, 5a, 5b) so that stems agree with the
 * reference ROUGE scores: no NLTK irregular-form table, no {@code -logi}/{@code -fulli} extensions, the
 * original {@code -abli → -able} rule, and words of any length are stemmed (rouge_score itself only
 * passes tokens longer than 3 characters). Input is lower-cased first.
 *
 * <p>Within each step the rules are tried in order and the first rule whose suffix matches decides the
 * outcome, even when its condition fails (then the word is left as it is) — the detail that makes
 * {@code falling → fall} rather than {@code fal}.
 */
public final class PorterStemmer {

    /** A rule: when the word ends with {@code suffix} (or "*d", a double consonant) and the stem passes. */
    private record Rule(String suffix, String replacement, StemCondition condition) {
    }

    @FunctionalInterface
    private interface StemCondition {
        boolean test(String stem);
    }

    private static final String DOUBLE_CONSONANT = "*d";

    public PorterStemmer() {
    }

    public String stem(String word) {
        String stem = word.toLowerCase(Locale.ROOT);
        stem = step1a(stem);
        stem = step1b(stem);
        stem = step1c(stem);
        stem = step2(stem);
        stem = step3(stem);
        stem = step4(stem);
        stem = step5a(stem);
        stem = step5b(stem);
        return stem;
    }

    private static boolean isVowel(char c) {
        return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
    }

    /** NLTK {@code _is_consonant}: a 'y' is a consonant unless it follows a consonant (runs of 'y' alternate). */
    private static boolean isConsonant(String word, int i) {
        char c = word.charAt(i);
        if (isVowel(c)) {
            return false;
        }
        if (c == 'y') {
            boolean negate = false;
            while (i > 0 && word.charAt(i) == 'y') {
                negate = !negate;
                i--;
            }
            return !isVowel(word.charAt(i)) != negate;
        }
        return true;
    }

    /** NLTK {@code _consonant_flags}: used by the measure and the vowel test. */
    private static boolean[] consonantFlags(String word) {
        boolean[] flags = new boolean[word.length()];
        for (int i = 0; i < word.length(); i++) {
            char c = word.charAt(i);
            if (isVowel(c)) {
                flags[i] = false;
            } else if (c == 'y') {
                flags[i] = i == 0 || !flags[i - 1];
            } else {
                flags[i] = true;
            }
        }
        return flags;
    }

    /** m in [C](VC)^m[V]: the number of vowel-consonant transitions. */
    private static int measure(String stem) {
        boolean[] flags = consonantFlags(stem);
        int m = 0;
        for (int i = 1; i < flags.length; i++) {
            if (!flags[i - 1] && flags[i]) {
                m++;
            }
        }
        return m;
    }

    private static boolean hasPositiveMeasure(String stem) {
        return measure(stem) > 0;
    }

    private static boolean containsVowel(String stem) {
        for (boolean consonant : consonantFlags(stem)) {
            if (!consonant) {
                return true;
            }
        }
        return false;
    }

    private static boolean endsDoubleConsonant(String word) {
        int n = word.length();
        return n >= 2 && word.charAt(n - 1) == word.charAt(n - 2) && isConsonant(word, n - 1);
    }

    /** *o: consonant-vowel-consonant at the end, the last not w, x or y. */
    private static boolean endsCvc(String word) {
        int n = word.length();
        if (n < 3) {
            return false;
        }
        char last = word.charAt(n - 1);
        return isConsonant(word, n - 3) && !isConsonant(word, n - 2) && isConsonant(word, n - 1)
                && last != 'w' && last != 'x' && last != 'y';
    }

    private static String applyRules(String word, Rule... rules) {
        for (Rule rule : rules) {
            if (rule.suffix.equals(DOUBLE_CONSONANT) && endsDoubleConsonant(word)) {
                String stem = word.substring(0, word.length() - 2);
                return rule.condition == null || rule.condition.test(stem) ? stem + rule.replacement : word;
            }
            if (word.endsWith(rule.suffix)) {
                String stem = word.substring(0, word.length() - rule.suffix.length());
                return rule.condition == null || rule.condition.test(stem) ? stem + rule.replacement : word;
            }
        }
        return word;
    }

    private static String step1a(String word) {
        return applyRules(word,
                new Rule("sses", "ss", null),
                new Rule("ies", "i", null),
                new Rule("ss", "ss", null),
                new Rule("s", "", null));
    }

    private static String step1b(String word) {
        if (word.endsWith("eed")) {
            String stem = word.substring(0, word.length() - 3);
            return measure(stem) > 0 ? stem + "ee" : word;
        }
        String intermediate = null;
        for (String suffix : new String[] {"ed", "ing"}) {
            if (word.endsWith(suffix)) {
                String candidate = word.substring(0, word.length() - suffix.length());
                if (containsVowel(candidate)) {
                    intermediate = candidate;
                    break;
                }
            }
        }
        if (intermediate == null) {
            return word;
        }
        String base = intermediate;
        String lastLetter = base.isEmpty() ? "" : base.substring(base.length() - 1);
        return applyRules(base,
                new Rule("at", "ate", null),
                new Rule("bl", "ble", null),
                new Rule("iz", "ize", null),
                // A double consonant is undoubled (hopp → hop) unless it is ll, ss or zz (fall, hiss, fizz).
                new Rule(DOUBLE_CONSONANT, lastLetter,
                        stem -> !lastLetter.equals("l") && !lastLetter.equals("s") && !lastLetter.equals("z")),
                new Rule("", "e", stem -> measure(stem) == 1 && endsCvc(stem)));
    }

    private static String step1c(String word) {
        return applyRules(word, new Rule("y", "i", PorterStemmer::containsVowel));
    }

    private static String step2(String word) {
        StemCondition m = PorterStemmer::hasPositiveMeasure;
        return applyRules(word,
                new Rule("ational", "ate", m),
                new Rule("tional", "tion", m),
                new Rule("enci", "ence", m),
                new Rule("anci", "ance", m),
                new Rule("izer", "ize", m),
                new Rule("abli", "able", m),
                new Rule("alli", "al", m),
                new Rule("entli", "ent", m),
                new Rule("eli", "e", m),
                new Rule("ousli", "ous", m),
                new Rule("ization", "ize", m),
                new Rule("ation", "ate", m),
                new Rule("ator", "ate", m),
                new Rule("alism", "al", m),
                new Rule("iveness", "ive", m),
                new Rule("fulness", "ful", m),
                new Rule("ousness", "ous", m),
                new Rule("aliti", "al", m),
                new Rule("iviti", "ive", m),
                new Rule("biliti", "ble", m));
    }

    private static String step3(String word) {
        StemCondition m = PorterStemmer::hasPositiveMeasure;
        return applyRules(word,
                new Rule("icate", "ic", m),
                new Rule("ative", "", m),
                new Rule("alize", "al", m),
                new Rule("iciti", "ic", m),
                new Rule("ical", "ic", m),
                new Rule("ful", "", m),
                new Rule("ness", "", m));
    }

    private static String step4(String word) {
        StemCondition m = stem -> measure(stem) > 1;
        return applyRules(word,
                new Rule("al", "", m),
                new Rule("ance", "", m),
                new Rule("ence", "", m),
                new Rule("er", "", m),
                new Rule("ic", "", m),
                new Rule("able", "", m),
                new Rule("ible", "", m),
                new Rule("ant", "", m),
                new Rule("ement", "", m),
                new Rule("ment", "", m),
                new Rule("ent", "", m),
                new Rule("ion", "", stem -> measure(stem) > 1
                        && (stem.endsWith("s") || stem.endsWith("t"))),
                new Rule("ou", "", m),
                new Rule("ism", "", m),
                new Rule("ate", "", m),
                new Rule("iti", "", m),
                new Rule("ous", "", m),
                new Rule("ive", "", m),
                new Rule("ize", "", m));
    }

    private static String step5a(String word) {
        if (word.endsWith("e")) {
            String stem = word.substring(0, word.length() - 1);
            int m = measure(stem);
            if (m > 1 || (m == 1 && !endsCvc(stem))) {
                return stem;
            }
        }
        return word;
    }

    private static String step5b(String word) {
        // Condition on the word less one letter, as NLTK has it: m(word[:-1]) > 1.
        String whole = word;
        return applyRules(word, new Rule("ll", "l", stem -> measure(whole.substring(0, whole.length() - 1)) > 1));
    }
}
