package io.inferstream.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = gpt2}; GPT-2, Llama 3, Qwen2, SmolLM2 ...), as llama.cpp's
 * llm_tokenizer_bpe and HF tokenizers do it: special tokens are cut out first, the rest is split by the
 * model's pre-tokenizer, each piece is turned into its UTF-8 bytes (one byte-to-unicode char per byte) and
 * merged with a priority queue — always the adjacent pair with the lowest merge rank, leftmost on ties.
 */
public final class ByteLevelBpeTokenizer extends VocabularyTokenizer {

    private static final int CACHE_LIMIT = 200_000; // pieces; the cache is dropped when it grows past this

    private final PreTokenizer preTokenizer;
    private final MergeRanks ranks;
    private final boolean ignoreMerges;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param ignoreMerges emit a pre-token that is itself a token directly, before any merging
     *                     (tiktoken, HF {@code ignore_merges}, llama.cpp for llama-bpe)
     */
    ByteLevelBpeTokenizer(Vocabulary vocab, SpecialTokens special, SpecialTokenSplitter splitter,
                          PreTokenizer preTokenizer, MergeRanks ranks, boolean ignoreMerges) {
        super(vocab, special, splitter, textBytes(vocab));
        this.preTokenizer = preTokenizer;
        this.ranks = ranks;
        this.ignoreMerges = ignoreMerges;
    }

    /** [id] -> the bytes of the token's text: its piece is in the byte-to-unicode alphabet. */
    private static byte[][] textBytes(Vocabulary vocab) {
        byte[][] bytesOf = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) {
            switch (vocab.type(id)) {
                case NORMAL:
                case UNDEFINED:
                case BYTE:
                    bytesOf[id] = ByteUnicode.decode(vocab.piece(id));
                    break;
                case USER_DEFINED:
                    bytesOf[id] = vocab.piece(id).getBytes(StandardCharsets.UTF_8);
                    break;
                default:
                    bytesOf[id] = new byte[0];
            }
        }
        return bytesOf;
    }

    public PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    @Override
    protected void encodeText(String text, boolean afterSpecial, TokenIdList out) {
        for (String piece : preTokenizer.split(text)) {
            out.addAll(encodePiece(ByteUnicode.encode(piece)));
        }
    }

    /** Tokens of one pre-token, given in the byte-to-unicode alphabet (one char per byte). */
    private int[] encodePiece(String word) {
        int[] cached = cache.get(word);
        if (cached != null) {
            return cached;
        }
        int[] ids = merge(word);
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(word, ids);
        return ids;
    }

    private int[] merge(String word) {
        if (ignoreMerges) {
            int whole = vocab.id(word);
            if (whole >= 0) {
                return new int[] {whole};
            }
        }
        int n = word.length();
        int[] len = new int[n]; // chars (= bytes) in symbol i, which starts at char i; 0 once merged away
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>();
        for (int i = 1; i < n; i++) {
            addBigram(word, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size
                    || next[b.left] != b.right) {
                continue; // outdated: one side changed since the pair was queued
            }
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) {
                prev[next[b.right]] = b.left;
            }
            addBigram(word, len, prev[b.left], b.left, queue);
            addBigram(word, len, b.left, next[b.left], queue);
        }
        TokenIdList out = new TokenIdList();
        for (int i = n == 0 ? -1 : 0; i != -1; i = next[i]) {
            String part = word.substring(i, i + len[i]);
            int id = vocab.id(part);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            // No token for the symbol: fall back to its single bytes (llama.cpp drops bytes without a token).
            for (int c = 0; c < part.length(); c++) {
                int byteId = vocab.id(part.substring(c, c + 1));
                if (byteId >= 0) {
                    out.add(byteId);
                } else if (special.unk() >= 0) {
                    out.add(special.unk());
                }
            }
        }
        return out.toArray();
    }

    private void addBigram(String word, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        int rank = ranks.rank(word.substring(left, left + len[left]), word.substring(right, right + len[right]));
        if (rank >= 0) {
            queue.add(new Bigram(left, right, rank, len[left] + len[right]));
        }
    }

    /** A candidate merge; the queue yields the lowest rank first, then the leftmost. */
    private static final class Bigram implements Comparable<Bigram> {
        final int left;
        final int right;
        final int rank;
        final int size;

        Bigram(int left, int right, int rank, int size) {
            this.left = left;
            this.right = right;
            this.rank = rank;
            this.size = size;
        }

        @Override
        public int compareTo(Bigram o) {
            int c = Integer.compare(rank, o.rank);
            return c != 0 ? c : Integer.compare(left, o.left);
        }
    }
}
