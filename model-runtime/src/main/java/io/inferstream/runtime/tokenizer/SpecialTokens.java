package io.inferstream.runtime.tokenizer;

import java.util.BitSet;
import java.util.List;

/**
 * BOS/EOS/EOT/EOM ids, the add-BOS/EOS rules, and the end-of-generation set, resolved like llama.cpp's
 * llama_vocab::load: tokens whose text is a known end-of-turn marker ({@code <|eot_id|>}, {@code <|im_end|>},
 * {@code <|end|>}, ...) end generation too and are treated as control tokens.
 */
public final class SpecialTokens {

    /** Texts llama.cpp recognises as end-of-generation markers (llama-vocab.cpp, special_eog_ids). */
    static final List<String> END_OF_GENERATION_TEXTS = List.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>");

    private final int bos;
    private final int eos;
    private final int eot;
    private final int eom;
    private final int unk;
    private final boolean addBos;
    private final boolean addEos;
    private final BitSet endOfGeneration;

    private SpecialTokens(int bos, int eos, int eot, int eom, int unk, boolean addBos, boolean addEos, BitSet eog) {
        this.bos = bos;
        this.eos = eos;
        this.eot = eot;
        this.eom = eom;
        this.unk = unk;
        this.addBos = addBos;
        this.addEos = addEos;
        this.endOfGeneration = eog;
    }

    /**
     * Resolves the set against the vocabulary (ids of -1 mean "none"). Re-types text-detected
     * end-of-generation tokens to {@link TokenType#CONTROL}, as llama.cpp does.
     */
    static SpecialTokens resolve(Vocabulary vocab, int bos, int eos, int eot, int eom, int unk,
                                 boolean addBos, boolean addEos) {
        for (int id : new int[] {bos, eos, eot, eom, unk}) {
            if (id >= vocab.size()) {
                throw new IllegalArgumentException("special token id " + id + " is outside the vocabulary of "
                        + vocab.size() + " tokens");
            }
        }
        if (eot < 0) {
            eot = firstByText(vocab, List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>"));
        }
        if (eom < 0) {
            eom = vocab.id("<|eom_id|>");
        }
        BitSet eog = new BitSet(vocab.size());
        for (String text : END_OF_GENERATION_TEXTS) {
            int id = vocab.id(text);
            if (id >= 0) {
                eog.set(id);
                vocab.setType(id, TokenType.CONTROL);
            }
        }
        for (int id : new int[] {eos, eot, eom}) {
            if (id >= 0) {
                eog.set(id);
            }
        }
        return new SpecialTokens(bos, eos, eot, eom, unk, addBos && bos >= 0, addEos && eos >= 0, eog);
    }

    private static int firstByText(Vocabulary vocab, List<String> texts) {
        for (String t : texts) {
            int id = vocab.id(t);
            if (id >= 0) {
                return id;
            }
        }
        return -1;
    }

    public int bos() {
        return bos;
    }

    public int eos() {
        return eos;
    }

    public int eot() {
        return eot;
    }

    public int eom() {
        return eom;
    }

    public int unk() {
        return unk;
    }

    public boolean addBos() {
        return addBos;
    }

    public boolean addEos() {
        return addEos;
    }

    public boolean isEndOfGeneration(int id) {
        return id >= 0 && endOfGeneration.get(id);
    }
}
