package io.inferstream.runtime.eval;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Token-level F1 as the SQuAD evaluation script defines it ({@code compute_f1}): the tokens are the words
 * of the {@link SquadNormalization normalised} texts; common = multiset intersection; precision =
 * common / |prediction|, recall = common / |reference|. When either side has no tokens the score is 1 if
 * both have none, else 0.
 *
 * <p>For Chinese, whose words are not space-separated, pass a {@link UnicodeWordTokenizer} so that
 * characters are counted instead.
 */
public final class TokenF1 {

    private TokenF1() {
    }

    public static double score(String prediction, String reference) {
        return score(SquadNormalization.normalizedTokens(prediction), SquadNormalization.normalizedTokens(reference));
    }

    public static double score(String prediction, String reference, MetricTokenizer tokenizer) {
        return score(tokenizer.tokenize(prediction), tokenizer.tokenize(reference));
    }

    public static double score(List<String> predictionTokens, List<String> referenceTokens) {
        if (predictionTokens.isEmpty() || referenceTokens.isEmpty()) {
            return predictionTokens.equals(referenceTokens) ? 1.0 : 0.0;
        }
        Map<String, Integer> referenceCounts = new HashMap<>();
        referenceTokens.forEach(t -> referenceCounts.merge(t, 1, Integer::sum));
        int common = 0;
        for (String token : predictionTokens) {
            Integer left = referenceCounts.get(token);
            if (left != null && left > 0) {
                common++;
                referenceCounts.put(token, left - 1);
            }
        }
        if (common == 0) {
            return 0.0;
        }
        double precision = (double) common / predictionTokens.size();
        double recall = (double) common / referenceTokens.size();
        return 2 * precision * recall / (precision + recall);
    }
}
