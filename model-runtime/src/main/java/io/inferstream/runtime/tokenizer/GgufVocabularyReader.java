package io.inferstream.runtime.tokenizer;

import java.util.BitSet;
import java.util.Locale;

import io.inferstream.runtime.gguf.GgufFile;

/** Builds a tokenizer from GGUF {@code tokenizer.ggml.*} metadata, with llama.cpp's defaults. */
final class GgufVocabularyReader {

    static final String MODEL = "tokenizer.ggml.model";
    static final String PRE = "tokenizer.ggml.pre";
    static final String TOKENS = "tokenizer.ggml.tokens";
    static final String SCORES = "tokenizer.ggml.scores";
    static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    static final String MERGES = "tokenizer.ggml.merges";

    private GgufVocabularyReader() {
    }

    static Tokenizer read(GgufFile gguf) {
        String where = String.valueOf(gguf.path());
        if (!gguf.has(MODEL)) {
            throw new IllegalArgumentException(where + ": no tokenizer in the GGUF metadata (key '" + MODEL + "' is missing)");
        }
        String model = gguf.getString(MODEL);
        String[] pieces = gguf.getStringArray(TOKENS);
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i].isEmpty()) {
                pieces[i] = "[EMPTY_" + i + "]"; // as llama.cpp, so an empty piece never matches text
            }
        }
        float[] scores = gguf.has(SCORES) ? gguf.getFloatArray(SCORES) : null;
        TokenType[] types = null;
        if (gguf.has(TOKEN_TYPE)) {
            int[] codes = gguf.getIntArray(TOKEN_TYPE);
            types = new TokenType[codes.length];
            for (int i = 0; i < codes.length; i++) {
                try {
                    types[i] = TokenType.fromCode(codes[i]);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": " + TOKEN_TYPE + "[" + i + "] is " + codes[i] + ", expected 0..6", e);
                }
            }
        }
        Vocabulary vocab;
        try {
            vocab = new Vocabulary(pieces, scores, types);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        switch (model) {
            case "llama": {
                SpecialTokens special = specialTokens(gguf, vocab, 1, 2, 0, true);
                boolean addSpacePrefix = gguf.getBoolean("tokenizer.ggml.add_space_prefix", true);
                return new SentencePieceTokenizer(vocab, special, splitter(gguf, vocab), addSpacePrefix);
            }
            case "gpt2": {
                if (!gguf.has(MERGES)) {
                    throw new IllegalArgumentException(where + ": byte-level BPE vocabulary without '" + MERGES + "'");
                }
                MergeRanks ranks = MergeRanks.fromMerges(gguf.getStringArray(MERGES), where + " " + MERGES);
                String pre = gguf.getString(PRE, "default");
                PreTokenizer preTokenizer;
                try {
                    preTokenizer = PreTokenizer.forName(pre);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
                }
                boolean llama3 = preTokenizer.name().equals("llama3") || preTokenizer.name().equals("llama-v3")
                        || preTokenizer.name().equals("llama-bpe") || preTokenizer.name().equals("falcon3");
                SpecialTokens special = specialTokens(gguf, vocab, 11, 11, -1, llama3);
                return new ByteLevelBpeTokenizer(vocab, special, splitter(gguf, vocab), preTokenizer, ranks, llama3);
            }
            default:
                throw new IllegalArgumentException(where + ": unsupported tokenizer model '" + model + "' (" + MODEL
                        + "): expected 'llama' (SentencePiece BPE) or 'gpt2' (byte-level BPE)");
        }
    }

    /** llama.cpp's defaults per model type, overridden by whatever the metadata says. */
    private static SpecialTokens specialTokens(GgufFile gguf, Vocabulary vocab, int bos, int eos, int unk, boolean addBos) {
        return SpecialTokens.resolve(vocab,
                id(gguf, "tokenizer.ggml.bos_token_id", bos),
                id(gguf, "tokenizer.ggml.eos_token_id", eos),
                id(gguf, "tokenizer.ggml.eot_token_id", -1),
                id(gguf, "tokenizer.ggml.eom_token_id", -1),
                id(gguf, "tokenizer.ggml.unknown_token_id", unk),
                gguf.getBoolean("tokenizer.ggml.add_bos_token", addBos),
                gguf.getBoolean("tokenizer.ggml.add_eos_token", false));
    }

    private static int id(GgufFile gguf, String key, int defaultId) {
        int id = gguf.getInt(key, defaultId);
        return id < 0 ? -1 : id;
    }

    /** Phi-3 strips whitespace to the right of its special tokens (llama.cpp sets RSTRIP by model name). */
    private static SpecialTokenSplitter splitter(GgufFile gguf, Vocabulary vocab) {
        String name = gguf.getString("general.name", "").toLowerCase(Locale.ROOT);
        BitSet rstrip = new BitSet();
        if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id = 0; id < vocab.size(); id++) {
                if (vocab.type(id).isSpecial()) {
                    rstrip.set(id);
                }
            }
            setIfPresent(rstrip, vocab, "</s>", true);
            for (String t : new String[] {"<unk>", "<s>", "<|endoftext|>"}) {
                setIfPresent(rstrip, vocab, t, false);
            }
        }
        return new SpecialTokenSplitter(vocab, new BitSet(), rstrip);
    }

    private static void setIfPresent(BitSet bits, Vocabulary vocab, String piece, boolean value) {
        int id = vocab.id(piece);
        if (id >= 0) {
            bits.set(id, value);
        }
    }
}
