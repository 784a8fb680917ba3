package io.inferstream.runtime.tokenizer;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The token table of a tokenizer: piece text, score and type per id, and the reverse lookup.
 *
 * <p>Pieces are stored as the vocabulary writes them: with {@code ▁} for spaces (SentencePiece) or
 * in the GPT-2 byte-to-unicode alphabet (byte-level BPE).
 */
public final class Vocabulary {

    private final String[] pieces;
    private final float[] scores;   // [n] (zeros when the vocabulary has none)
    private final TokenType[] types; // [n]
    private final Map<String, Integer> ids;

    public Vocabulary(String[] pieces, float[] scores, TokenType[] types) {
        int n = pieces.length;
        if (scores != null && scores.length != n) {
            throw new IllegalArgumentException("vocabulary has " + n + " pieces but " + scores.length + " scores");
        }
        if (types != null && types.length != n) {
            throw new IllegalArgumentException("vocabulary has " + n + " pieces but " + types.length + " token types");
        }
        this.pieces = pieces;
        this.scores = scores != null ? scores : new float[n];
        this.types = types != null ? types : filled(n);
        this.ids = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            if (pieces[i] == null) {
                throw new IllegalArgumentException("vocabulary has no piece for id " + i);
            }
            ids.put(pieces[i], i); // a duplicated piece resolves to its last id, as in llama.cpp
        }
    }

    private static TokenType[] filled(int n) {
        TokenType[] t = new TokenType[n];
        Arrays.fill(t, TokenType.NORMAL);
        return t;
    }

    public int size() {
        return pieces.length;
    }

    public String piece(int id) {
        check(id);
        return pieces[id];
    }

    public float score(int id) {
        check(id);
        return scores[id];
    }

    public TokenType type(int id) {
        check(id);
        return types[id];
    }

    /** Id of the piece, or -1. */
    public int id(String piece) {
        Integer id = ids.get(piece);
        return id == null ? -1 : id;
    }

    /** Re-types a token (llama.cpp marks end-of-generation tokens found by text as control). */
    void setType(int id, TokenType type) {
        check(id);
        types[id] = type;
    }

    private void check(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
        }
    }
}
