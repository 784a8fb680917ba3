package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class RougeScorerTest {

    private static final double EPS = 1e-12;

    private final RougeScorer scorer = RougeScorer.standard();

    private static void assertScore(double precision, double recall, double f, RougeScore actual) {
        assertEquals(precision, actual.precision(), EPS, "precision");
        assertEquals(recall, actual.recall(), EPS, "recall");
        assertEquals(f, actual.fmeasure(), EPS, "f-measure");
    }

    @Test
    void rougeLFollowsWordOrderWhileRouge1IsBagOfWords() {
        String reference = "the cat sat on the mat";
        String candidate = "on the mat the cat sat";
        // Unigrams: both {the:2, cat, sat, on, mat} -> overlap 6 of 6 -> P = R = F = 1.
        assertScore(1, 1, 1, scorer.rouge1(reference, candidate));
        // LCS: "the cat sat" (ref 0-2, cand 3-5) or "on the mat" (ref 3-5, cand 0-2); no length 4 exists
        // because after "mat" (ref 5) nothing follows -> LCS = 3 -> P = 3/6, R = 3/6, F = 0.5.
        assertScore(0.5, 0.5, 0.5, scorer.rougeL(reference, candidate));
        // Bigrams ref: the-cat cat-sat sat-on on-the the-mat; cand: on-the the-mat mat-the the-cat cat-sat
        // -> 4 shared of 5 and 5 -> 0.8.
        assertScore(0.8, 0.8, 0.8, scorer.rouge2(reference, candidate));
    }

    @Test
    void rougeLMatchesLinsPaperExample() {
        // Lin (2004), section 3.1: R = "police killed the gunman".
        // S2 "police kill the gunman": LCS "police the gunman" = 3 -> 3/4.
        assertScore(0.75, 0.75, 0.75, scorer.rougeL("police killed the gunman", "police kill the gunman"));
        // S3 "the gunman kill police": LCS "the gunman" = 2 -> 2/4.
        assertScore(0.5, 0.5, 0.5, scorer.rougeL("police killed the gunman", "the gunman kill police"));
    }

    @Test
    void rougeNClipsRepeatedNgramsToTheirReferenceCount() {
        String reference = "the cat the cat sat";
        String candidate = "the cat the cat the cat";
        // Bigrams ref: the-cat x2, cat-the x1, cat-sat x1 (4); cand: the-cat x3, cat-the x2 (5).
        // Clipped overlap: min(2,3) + min(1,2) + min(1,0) = 3 -> P = 3/5, R = 3/4,
        // F = 2 * 0.6 * 0.75 / 1.35 = 2/3.
        assertScore(0.6, 0.75, 2.0 / 3.0, scorer.rouge2(reference, candidate));
        // Unigrams ref: the 2, cat 2, sat 1 (5); cand: the 3, cat 3 (6). Overlap 2 + 2 = 4 ->
        // P = 4/6, R = 4/5, F = 2 (2/3)(4/5) / (2/3 + 4/5) = (16/15) / (22/15) = 8/11.
        assertScore(4.0 / 6.0, 0.8, 8.0 / 11.0, scorer.rouge1(reference, candidate));
    }

    @Test
    void unequalLengthsGiveDifferentPrecisionAndRecall() {
        // ref 4 tokens, cand 2 tokens "the gunman" both in ref in order: LCS 2 -> P = 2/2, R = 2/4,
        // F = 2 * 1 * 0.5 / 1.5 = 2/3.
        assertScore(1, 0.5, 2.0 / 3.0, scorer.rougeL("police killed the gunman", "The gunman!"));
    }

    @Test
    void punctuationAndCaseDoNotMatter() {
        assertScore(1, 1, 1, scorer.rougeL("The Cat-sat.", "the cat sat"));
    }

    @Test
    void emptySidesScoreZero() {
        assertScore(0, 0, 0, scorer.rouge1("the cat", ""));
        assertScore(0, 0, 0, scorer.rougeL("the cat", ""));
        assertScore(0, 0, 0, scorer.rouge1("", "the cat"));
        assertScore(0, 0, 0, scorer.rougeL("", "the cat"));
        // Both empty: rouge_score reports 0, not 1 (precision = 0 / max(0, 1)).
        assertScore(0, 0, 0, scorer.rouge1("", ""));
        assertScore(0, 0, 0, scorer.rouge2("", ""));
        assertScore(0, 0, 0, scorer.rougeL("", ""));
        assertScore(0, 0, 0, scorer.rougeLsum("", ""));
        // Only punctuation tokenizes to nothing.
        assertScore(0, 0, 0, scorer.rouge1("the cat", "!!! ..."));
        // One token: no bigram on either side -> 0.
        assertScore(0, 0, 0, scorer.rouge2("cat", "cat"));
    }

    @Test
    void chineseScoresZeroWithTheReferenceTokenizerButCountsCharactersWithTheUnicodeTokenizer() {
        String reference = "猫坐在垫子上";
        String candidate = "猫在垫子上坐";
        // rouge_score's tokenizer erases both texts.
        assertScore(0, 0, 0, scorer.rouge1(reference, candidate));

        RougeScorer unicode = new RougeScorer(UnicodeWordTokenizer.standard());
        // Characters ref: 猫 坐 在 垫 子 上; cand: 猫 在 垫 子 上 坐 -> same multiset -> 1.
        assertScore(1, 1, 1, unicode.rouge1(reference, candidate));
        // LCS: 猫 在 垫 子 上 = 5 of 6 -> 5/6.
        assertScore(5.0 / 6.0, 5.0 / 6.0, 5.0 / 6.0, unicode.rougeL(reference, candidate));
        // Bigrams ref: 猫坐 坐在 在垫 垫子 子上; cand: 猫在 在垫 垫子 子上 上坐 -> 3 shared of 5 -> 0.6.
        assertScore(0.6, 0.6, 0.6, unicode.rouge2(reference, candidate));
    }

    @Test
    void stemmingMatchesInflectedForms() {
        String reference = "the cats are running";
        String candidate = "a cat runs";
        // Without stemming: {the, cats, are, running} vs {a, cat, runs}: nothing shared.
        assertScore(0, 0, 0, scorer.rouge1(reference, candidate));
        // With stemming (tokens > 3 chars): ref {the, cat, are, run}, cand {a, cat, run}: 2 shared ->
        // P = 2/3, R = 2/4, F = 2 (2/3)(1/2) / (7/6) = 4/7.
        RougeScorer stemming = new RougeScorer(RougeTokenizer.stemming());
        assertScore(2.0 / 3.0, 0.5, 4.0 / 7.0, stemming.rouge1(reference, candidate));
    }

    @Test
    void rougeLsumUnitesSentenceLcsAsInLinsPaper() {
        // Lin (2004), section 3.2: r = w1 w2 w3 w4 w5; c1 = w1 w2 w6 w7 w8; c2 = w1 w3 w8 w9 w5.
        // LCS(r, c1) = w1 w2, LCS(r, c2) = w1 w3 w5; union = w1 w2 w3 w5 -> 4 hits.
        // R = 4/5, P = 4/10 (candidate has 10 tokens), F = 2 * 0.32 / 1.2 = 0.5333...
        RougeScore score = scorer.rougeLsum("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5");
        assertScore(0.4, 0.8, 2 * 0.4 * 0.8 / 1.2, score);
    }

    @Test
    void rougeLsumIgnoresSentenceOrderWhereRougeLDoesNot() {
        String reference = "the cat sat\non the mat";
        String candidate = "on the mat\nthe cat sat";
        // Sentence-level ROUGE-L sees "the cat sat on the mat" vs "on the mat the cat sat": LCS 3 of 6.
        assertScore(0.5, 0.5, 0.5, scorer.rougeL(reference, candidate));
        // Summary level: "the cat sat" unites {the} (vs c1) and {the, cat, sat} (vs c2) -> 3 hits;
        // "on the mat" unites {on, the, mat} and {the} -> 3 hits ("the" occurs twice on both sides) -> 6/6.
        assertScore(1, 1, 1, scorer.rougeLsum(reference, candidate));
    }

    @Test
    void rougeNRejectsNonPositiveN() {
        assertThrows(IllegalArgumentException.class, () -> scorer.rougeN(0, "a", "a"));
    }
}
