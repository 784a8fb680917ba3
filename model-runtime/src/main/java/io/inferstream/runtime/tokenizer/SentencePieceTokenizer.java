package io.inferstream.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * SentencePiece-style BPE by piece score ({@code tokenizer.ggml.model = llama}), exactly as llama.cpp's
 * llm_tokenizer_spm: spaces become {@code ▁}, a dummy-prefix space starts the text (and every text after a
 * special token), then adjacent symbols are merged greedily, always the pair whose merged piece has the
 * highest score (leftmost on ties). Symbols that end up as no piece fall back to {@code <0xXX>} byte tokens.
 */
public final class SentencePieceTokenizer extends VocabularyTokenizer {

    static final char SPACE = '\u2581'; // ▁

    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256]; // [byte] -> id of <0xXX>, or -1

    SentencePieceTokenizer(Vocabulary vocab, SpecialTokens special, SpecialTokenSplitter splitter, boolean addSpacePrefix) {
        super(vocab, special, splitter, textBytes(vocab));
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            byteTokens[b] = vocab.id(String.format("<0x%02X>", b));
        }
    }

    @Override
    protected void encodeText(String text, boolean afterSpecial, TokenIdList out) {
        // the first text, and every text after a special token, gets the dummy prefix
        String s = addSpacePrefix && afterSpecial ? " " + text : text;
        encodePieces(s.replace(' ', SPACE), out);
    }

    @Override
    protected int addedPrefixBytes(int id, byte[] bytes) {
        return addSpacePrefix && bytes[0] == ' ' && vocab.type(id) == TokenType.NORMAL ? 1 : 0; // the dummy prefix
    }

    /** Score-driven merging over the code points of one escaped text (llm_tokenizer_spm_session). */
    private void encodePieces(String text, TokenIdList out) {
        int n = text.codePointCount(0, text.length());
        int[] start = new int[n]; // char offset of symbol i
        int[] len = new int[n];   // chars in symbol i (0 once merged into its left neighbour)
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, off = 0; i < n; i++) {
            int cp = text.codePointAt(off);
            start[i] = off;
            len[i] = Character.charCount(cp);
            off += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>();
        for (int i = 1; i < n; i++) {
            tryAddBigram(text, start, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size) {
                continue; // stale: one side has been merged since
            }
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) {
                prev[next[b.right]] = b.left;
            }
            tryAddBigram(text, start, len, prev[b.left], b.left, queue);
            tryAddBigram(text, start, len, b.left, next[b.left], queue);
        }
        for (int i = n == 0 ? -1 : 0; i != -1; i = next[i]) {
            String piece = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                int byteId = byteTokens[b & 0xFF];
                if (byteId < 0) {
                    if (special.unk() < 0) {
                        throw new IllegalArgumentException("cannot encode '" + piece + "': the vocabulary has no byte token <0x"
                                + String.format("%02X", b & 0xFF) + "> and no unknown token");
                    }
                    byteId = special.unk();
                }
                out.add(byteId);
            }
        }
    }

    private void tryAddBigram(String text, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        int size = len[left] + len[right];
        int id = vocab.id(text.substring(start[left], start[left] + size));
        if (id < 0) {
            return;
        }
        queue.add(new Bigram(left, right, vocab.score(id), size));
    }

    /** A candidate merge; the queue yields the highest score first, then the leftmost. */
    private static final class Bigram implements Comparable<Bigram> {
        final int left;
        final int right;
        final float score;
        final int size;

        Bigram(int left, int right, float score, int size) {
            this.left = left;
            this.right = right;
            this.score = score;
            this.size = size;
        }

        @Override
        public int compareTo(Bigram o) {
            int c = Float.compare(o.score, score);
            return c != 0 ? c : Integer.compare(left, o.left);
        }
    }

    /** [id] -> the bytes of the token's text. */
    private static byte[][] textBytes(Vocabulary vocab) {
        byte[][] bytesOf = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) {
            bytesOf[id] = textBytes(vocab, id);
        }
        return bytesOf;
    }

    private static byte[] textBytes(Vocabulary vocab, int id) {
        String piece = vocab.piece(id);
        switch (vocab.type(id)) {
            case NORMAL:
            case UNDEFINED:
                return piece.replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8);
            case USER_DEFINED:
                return piece.getBytes(StandardCharsets.UTF_8);
            case BYTE:
                if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
                    return new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
                }
                throw new IllegalArgumentException("byte token " + id + " has piece '" + piece + "', expected <0xXX>");
            default:
                return new byte[0]; // control, unknown, unused: no text
        }
    }
}
