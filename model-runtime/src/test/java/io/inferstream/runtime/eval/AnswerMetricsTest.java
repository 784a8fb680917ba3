package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Exact match and token F1 with the SQuAD evaluation script's definitions. */
class AnswerMetricsTest {

    private static final double EPS = 1e-12;

    @Test
    void normalizationLowerCasesStripsPunctuationArticlesAndSpaces() {
        // lower -> "the  quick, brown fox!" ; punctuation removed -> "the  quick brown fox";
        // articles -> "   quick brown fox" ; whitespace collapsed -> "quick brown fox".
        assertEquals("quick brown fox", SquadNormalization.normalize("The  Quick, brown fox!"));
        // Articles only as whole words: "theatre" and "anchor" keep their letters.
        assertEquals("theatre anchor", SquadNormalization.normalize("A theatre, an anchor."));
        assertEquals(List.of(), SquadNormalization.normalizedTokens("The a AN."));
    }

    @Test
    void exactMatchNormalizesByDefaultAndCanBeStrict() {
        assertEquals(1.0, ExactMatch.score("The Eiffel Tower.", "eiffel tower"));
        assertEquals(0.0, ExactMatch.score("The Eiffel Tower.", "eiffel tower", false));
        assertEquals(1.0, ExactMatch.score("eiffel tower", "eiffel tower", false));
        assertEquals(0.0, ExactMatch.score("Eiffel", "eiffel tower"));
        assertEquals(1.0, ExactMatch.score("", ""));
        assertEquals(0.0, ExactMatch.score("", "Paris"));
    }

    @Test
    void tokenF1CountsCommonTokensAfterNormalization() {
        // pred -> [cat, sat, on, mat] (4); ref "a cat on a mat" -> [cat, on, mat] (3); common 3.
        // P = 3/4, R = 3/3 -> F = 2 * 0.75 / 1.75 = 6/7.
        assertEquals(6.0 / 7.0, TokenF1.score("the cat sat on the mat", "a cat on a mat"), EPS);
        // Repeated prediction tokens count once per reference occurrence: common 1, P = 1/3, R = 1 -> 0.5.
        assertEquals(0.5, TokenF1.score("go go go", "go"), EPS);
        assertEquals(0.0, TokenF1.score("blue", "red"), EPS);
    }

    @Test
    void tokenF1EdgeCasesFollowSquad() {
        // Either side without tokens: 1 if both have none, 0 otherwise.
        assertEquals(1.0, TokenF1.score("", ""), EPS);
        assertEquals(1.0, TokenF1.score("the", ""), EPS);   // "the" normalises to nothing
        assertEquals(0.0, TokenF1.score("", "Paris"), EPS);
        assertEquals(0.0, TokenF1.score("Paris", ""), EPS);
    }

    @Test
    void tokenF1OnChineseNeedsTheUnicodeTokenizer() {
        // Whitespace tokens: one token each, different -> 0.
        assertEquals(0.0, TokenF1.score("我喜欢猫", "我喜欢狗"), EPS);
        // Characters: 我 喜 欢 猫 vs 我 喜 欢 狗 -> common 3 of 4 each -> 0.75.
        assertEquals(0.75, TokenF1.score("我喜欢猫", "我喜欢狗", UnicodeWordTokenizer.standard()), EPS);
    }
}
