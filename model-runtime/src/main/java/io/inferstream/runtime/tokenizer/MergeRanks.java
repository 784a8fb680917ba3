package io.inferstream.runtime.tokenizer;

import java.util.HashMap;
import java.util.Map;

/** The rank of merging two adjacent parts in byte-level BPE (lower merges first), or -1 if they never merge. */
interface MergeRanks {

    int rank(String left, String right);

    /**
     * From a merges list ({@code "Ġ t"} per line / GGUF {@code tokenizer.ggml.merges}): rank = position.
     * Parts are in the byte-to-unicode alphabet, which has no plain space, so the space is the separator.
     */
    static MergeRanks fromMerges(String[] merges, String source) {
        Map<String, Integer> ranks = new HashMap<>(merges.length * 2);
        for (int i = 0; i < merges.length; i++) {
            String m = merges[i];
            int sp = m.indexOf(' ', 1);
            if (sp < 0 || m.indexOf(' ', sp + 1) >= 0) {
                throw new IllegalArgumentException(source + ": merge " + i + " is '" + m + "', expected two parts separated by one space");
            }
            ranks.putIfAbsent(m, i); // the first occurrence of a duplicate wins, as in HF
        }
        return (left, right) -> {
            Integer r = ranks.get(left + ' ' + right);
            return r == null ? -1 : r;
        };
    }

    /** tiktoken: two parts merge when their concatenation is a token; its id is the rank. */
    static MergeRanks fromTokenRanks(Vocabulary vocab) {
        return (left, right) -> vocab.id(left + right);
    }
}
