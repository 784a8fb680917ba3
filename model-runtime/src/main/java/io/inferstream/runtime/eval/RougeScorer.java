package io.inferstream.runtime.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * ROUGE-N, ROUGE-L and ROUGE-Lsum between one reference (target) and one candidate (prediction), computed
 * as Google's {@code rouge_score.rouge_scorer.RougeScorer} does, over the tokens of a {@link MetricTokenizer}
 * ({@link RougeTokenizer#standard()} by default: the reference tokenization, stemming off).
 *
 * <ul>
 *   <li>ROUGE-N: clipped n-gram overlap — an n-gram counts min(count in reference, count in candidate)
 *       times; precision divides by the candidate's n-gram count, recall by the reference's (each at
 *       least 1, so an empty side gives 0, not NaN).</li>
 *   <li>ROUGE-L: sentence-level longest common subsequence of the two token sequences; 0 when either is
 *       empty.</li>
 *   <li>ROUGE-Lsum: summary-level LCS over newline-separated sentences: for each reference sentence, the
 *       union of its LCS positions against every candidate sentence, each token counted at most as often
 *       as it occurs on both sides.</li>
 * </ul>
 * Both texts empty score 0, as in rouge_score (which never reports a perfect score for nothing).
 */
public final class RougeScorer {

    private final MetricTokenizer tokenizer;

    public RougeScorer(MetricTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The reference configuration: rouge_score tokenization without stemming. */
    public static RougeScorer standard() {
        return new RougeScorer(RougeTokenizer.standard());
    }

    public MetricTokenizer tokenizer() {
        return tokenizer;
    }

    public RougeScore rouge1(String reference, String candidate) {
        return rougeN(1, reference, candidate);
    }

    public RougeScore rouge2(String reference, String candidate) {
        return rougeN(2, reference, candidate);
    }

    public RougeScore rougeN(int n, String reference, String candidate) {
        if (n < 1) {
            throw new IllegalArgumentException("ROUGE-N needs n >= 1, got " + n);
        }
        return ngramScore(ngrams(tokenizer.tokenize(reference), n), ngrams(tokenizer.tokenize(candidate), n));
    }

    public RougeScore rougeL(String reference, String candidate) {
        return lcsScore(tokenizer.tokenize(reference), tokenizer.tokenize(candidate));
    }

    /** Summary-level ROUGE-L; sentences are the non-empty lines of each text. */
    public RougeScore rougeLsum(String reference, String candidate) {
        return summaryLcsScore(sentences(reference), sentences(candidate));
    }

    static Map<List<String>, Integer> ngrams(List<String> tokens, int n) {
        Map<List<String>, Integer> counts = new HashMap<>();
        for (int i = 0; i + n <= tokens.size(); i++) {
            counts.merge(List.copyOf(tokens.subList(i, i + n)), 1, Integer::sum);
        }
        return counts;
    }

    private static RougeScore ngramScore(Map<List<String>, Integer> reference, Map<List<String>, Integer> candidate) {
        int overlap = 0;
        for (Map.Entry<List<String>, Integer> e : reference.entrySet()) {
            overlap += Math.min(e.getValue(), candidate.getOrDefault(e.getKey(), 0));
        }
        int referenceCount = reference.values().stream().mapToInt(Integer::intValue).sum();
        int candidateCount = candidate.values().stream().mapToInt(Integer::intValue).sum();
        double precision = (double) overlap / Math.max(candidateCount, 1);
        double recall = (double) overlap / Math.max(referenceCount, 1);
        return RougeScore.of(precision, recall);
    }

    private static RougeScore lcsScore(List<String> reference, List<String> candidate) {
        if (reference.isEmpty() || candidate.isEmpty()) {
            return RougeScore.ZERO;
        }
        int lcs = lcsTable(reference, candidate)[reference.size()][candidate.size()];
        return RougeScore.of((double) lcs / candidate.size(), (double) lcs / reference.size());
    }

    /** table[i][j] = LCS length of reference[0, i) and candidate[0, j). // [|ref| + 1, |cand| + 1] */
    static int[][] lcsTable(List<String> reference, List<String> candidate) {
        int rows = reference.size();
        int cols = candidate.size();
        int[][] table = new int[rows + 1][cols + 1];
        for (int i = 1; i <= rows; i++) {
            for (int j = 1; j <= cols; j++) {
                if (reference.get(i - 1).equals(candidate.get(j - 1))) {
                    table[i][j] = table[i - 1][j - 1] + 1;
                } else {
                    table[i][j] = Math.max(table[i - 1][j], table[i][j - 1]);
                }
            }
        }
        return table;
    }

    /** Indices into reference of one LCS, backtracked exactly as rouge_score's {@code _backtrack_norec}. */
    static List<Integer> lcsIndices(List<String> reference, List<String> candidate) {
        int[][] t = lcsTable(reference, candidate);
        int i = reference.size();
        int j = candidate.size();
        List<Integer> indices = new ArrayList<>();
        while (i > 0 && j > 0) {
            if (reference.get(i - 1).equals(candidate.get(j - 1))) {
                indices.add(0, i - 1);
                i--;
                j--;
            } else if (t[i][j - 1] > t[i - 1][j]) {
                j--;
            } else {
                i--;
            }
        }
        return indices;
    }

    private List<List<String>> sentences(String text) {
        List<List<String>> sentences = new ArrayList<>();
        for (String line : text.split("\n", -1)) {
            if (!line.isEmpty()) {
                sentences.add(tokenizer.tokenize(line));
            }
        }
        return sentences;
    }

    private static RougeScore summaryLcsScore(List<List<String>> referenceSentences, List<List<String>> candidateSentences) {
        if (referenceSentences.isEmpty() || candidateSentences.isEmpty()) {
            return RougeScore.ZERO;
        }
        int m = referenceSentences.stream().mapToInt(List::size).sum();
        int n = candidateSentences.stream().mapToInt(List::size).sum();
        if (m == 0 || n == 0) {
            return RougeScore.ZERO;
        }
        // Token budgets: a token is a hit at most as often as it occurs on both sides.
        Map<String, Integer> referenceCounts = new HashMap<>();
        Map<String, Integer> candidateCounts = new HashMap<>();
        referenceSentences.forEach(s -> s.forEach(t -> referenceCounts.merge(t, 1, Integer::sum)));
        candidateSentences.forEach(s -> s.forEach(t -> candidateCounts.merge(t, 1, Integer::sum)));
        int hits = 0;
        for (List<String> reference : referenceSentences) {
            TreeSet<Integer> union = new TreeSet<>();
            for (List<String> candidate : candidateSentences) {
                union.addAll(lcsIndices(reference, candidate));
            }
            for (int index : union) {
                String token = reference.get(index);
                if (candidateCounts.getOrDefault(token, 0) > 0 && referenceCounts.getOrDefault(token, 0) > 0) {
                    hits++;
                    candidateCounts.merge(token, -1, Integer::sum);
                    referenceCounts.merge(token, -1, Integer::sum);
                }
            }
        }
        return RougeScore.of((double) hits / n, (double) hits / m);
    }
}
