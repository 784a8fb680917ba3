package io.inferstream.runtime.tasks;

import io.inferstream.runtime.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * The tokens each candidate label adds after a prompt, found the way the label would really follow it:
 * {@code prompt + joiner + label} is tokenized as one text and the label's tokens are those after the part
 * all candidates share. Tokenizing the label on its own would be wrong: a SentencePiece vocabulary spells
 * " Positive" after "Label:" as {@code ▁Pos itive} but "Positive" after a newline as {@code Pos itive}, and a
 * merge may even cross the boundary between prompt and label.
 *
 * <p>The shared prefix is the longest token prefix common to every joint tokenization, so it is computed once
 * (and served from the prefix cache) for all labels; when the tokenizer merges across the boundary, the
 * boundary tokens move into the continuations, and each label is then scored as the likelihood of its whole
 * joint text after the shared prefix.
 *
 * @param prefix        [p] tokens shared by every {@code prompt + joiner + label}
 * @param continuations [labels][c_l] each label's tokens after the prefix (never empty)
 */
public record LabelContinuations(int[] prefix, int[][] continuations) {

    public static LabelContinuations of(Tokenizer tokenizer, TaskPrompt prompt, List<String> labels) {
        int[] promptTokens = tokenizer.encode(prompt.text(), prompt.addBos(), prompt.parseSpecial());
        int[][] joint = new int[labels.size()][];
        int common = promptTokens.length;
        for (int l = 0; l < labels.size(); l++) {
            joint[l] = tokenizer.encode(prompt.text() + prompt.answerJoiner() + labels.get(l), prompt.addBos(),
                    prompt.parseSpecial());
            common = Math.min(common, commonPrefix(promptTokens, joint[l]));
        }
        int[][] continuations = new int[labels.size()][];
        for (int l = 0; l < labels.size(); l++) {
            continuations[l] = Arrays.copyOfRange(joint[l], common, joint[l].length);
            if (continuations[l].length == 0) {
                throw new IllegalArgumentException("label '" + labels.get(l) + "' adds no tokens after the prompt");
            }
        }
        return new LabelContinuations(Arrays.copyOf(promptTokens, common), continuations);
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    /** Tokens the model reads to score every label: the prefix once, each continuation but its last token. */
    public int scoredTokens() {
        int n = prefix.length;
        for (int[] c : continuations) {
            n += c.length - 1;
        }
        return n;
    }
}
