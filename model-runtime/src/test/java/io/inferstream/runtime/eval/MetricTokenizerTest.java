package io.inferstream.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class MetricTokenizerTest {

    @Test
    void rougeTokenizerKeepsOnlyLowerCaseAsciiAlphanumericRuns() {
        // lower: "hi, i'm bob's friend — café 42!"; every run outside [a-z0-9] -> " ":
        // "hi i m bob s friend caf 42 " -> split on whitespace, empty tokens dropped.
        assertEquals(List.of("hi", "i", "m", "bob", "s", "friend", "caf", "42"),
                RougeTokenizer.standard().tokenize("Hi, I'm Bob's friend — café 42!"));
    }

    @Test
    void rougeTokenizerDropsChineseEntirely() {
        // rouge_score's documented behaviour: non-ASCII letters are replaced by spaces.
        assertEquals(List.of(), RougeTokenizer.standard().tokenize("猫坐在垫子上。"));
        assertEquals(List.of("gpu"), RougeTokenizer.standard().tokenize("GPU 显存不足"));
        assertEquals(List.of(), RougeTokenizer.standard().tokenize(""));
    }

    @Test
    void rougeTokenizerStemsOnlyTokensLongerThanThreeCharacters() {
        // "runs" (4 chars) -> "run"; "ran"/"cat" (3 chars) untouched even though "cat" would not change
        // and "ies" would become "i" if it were stemmed.
        assertEquals(List.of("the", "cat", "run", "ies", "ran", "summari"),
                RougeTokenizer.stemming().tokenize("The cat runs ies ran summaries"));
    }

    @Test
    void unicodeTokenizerSplitsIdeographsAndKeepsLetterRuns() {
        // lower: "gpu显存不足, café 42次!" -> run "gpu"; 显 存 不 足 one each; "café" (é is a letter);
        // digits "42" end at the ideograph 次; "!" and "," separate.
        assertEquals(List.of("gpu", "显", "存", "不", "足", "café", "42", "次"),
                UnicodeWordTokenizer.standard().tokenize("GPU显存不足, café 42次!"));
    }

    @Test
    void unicodeTokenizerTreatsFullWidthPunctuationAsSeparator() {
        assertEquals(List.of("猫", "坐", "在", "垫", "子", "上"),
                UnicodeWordTokenizer.standard().tokenize("猫坐在垫子上。"));
        assertEquals(List.of("über", "straße"), UnicodeWordTokenizer.standard().tokenize("Über „Straße“"));
    }

    @Test
    void unicodeTokenizerStemsOnlyAsciiWords() {
        assertEquals(List.of("run", "summari", "数", "据", "ies", "müssen"),
                UnicodeWordTokenizer.stemming().tokenize("running summaries 数据 ies müssen"));
    }
}
