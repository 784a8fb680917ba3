package io.inferstream.runtime.eval;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Accumulates (reference, prediction) pairs of a generation task (SUMMARIZE, TRANSLATE) and reports the
 * mean of each per-example score, as rouge_score's aggregation reports the mean F-measure:
 * {@code rouge1_f, rouge2_f, rougeL_f, rougeLsum_f} (ROUGE F-measures), {@code token_f1} and
 * {@code exact_match} (SQuAD definitions; token F1 over the same tokenizer as ROUGE when that is not the
 * rouge_score one, so that Chinese is scored by character).
 *
 * <p>Not thread-safe: one instance per task evaluation.
 */
public final class GenerationEvaluation {

    private final RougeScorer rouge;
    private final boolean referenceTokenization;
    private int examples;
    private double rouge1;
    private double rouge2;
    private double rougeL;
    private double rougeLsum;
    private double tokenF1;
    private double exactMatch;

    public GenerationEvaluation(MetricTokenizer tokenizer) {
        this.rouge = new RougeScorer(tokenizer);
        this.referenceTokenization = tokenizer instanceof RougeTokenizer;
    }

    /**
     * The tokenizer for references in {@code language} (ISO 639-1, null when unknown): English keeps
     * rouge_score's tokenization, so scores compare with published ones; every other language gets
     * {@link UnicodeWordTokenizer}, because rouge_score's drops Chinese characters and accented letters.
     */
    public static GenerationEvaluation forLanguage(String language) {
        return language == null || language.equalsIgnoreCase("en")
                ? new GenerationEvaluation(RougeTokenizer.standard())
                : new GenerationEvaluation(UnicodeWordTokenizer.standard());
    }

    public void add(String reference, String prediction) {
        examples++;
        rouge1 += rouge.rouge1(reference, prediction).fmeasure();
        rouge2 += rouge.rouge2(reference, prediction).fmeasure();
        rougeL += rouge.rougeL(reference, prediction).fmeasure();
        rougeLsum += rouge.rougeLsum(reference, prediction).fmeasure();
        tokenF1 += referenceTokenization
                ? TokenF1.score(prediction, reference)
                : TokenF1.score(prediction, reference, rouge.tokenizer());
        exactMatch += ExactMatch.score(prediction, reference);
    }

    public int examples() {
        return examples;
    }

    /** Mean per-example metrics, in a fixed order; all 0 when nothing was added. */
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        double n = Math.max(examples, 1);
        m.put("rouge1_f", rouge1 / n);
        m.put("rouge2_f", rouge2 / n);
        m.put("rougeL_f", rougeL / n);
        m.put("rougeLsum_f", rougeLsum / n);
        m.put("token_f1", tokenF1 / n);
        m.put("exact_match", exactMatch / n);
        return m;
    }
}
