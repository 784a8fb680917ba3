package io.inferstream.runtime.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * What the BPE tokenizers share around their merging: a {@link Vocabulary} with its {@link SpecialTokens}, the
 * special-token split that runs before merging (special tokens pass through as their ids, the text between them
 * goes to {@link #encodeText}), the BOS / EOS rule, and decoding by concatenating each token's bytes.
 */
public abstract class VocabularyTokenizer implements Tokenizer {
    protected final Vocabulary vocab;
    protected final SpecialTokens special;
    private final SpecialTokenSplitter splitter;
    private final byte[][] bytesOf; // [id] -> decoded bytes

    /** @param bytesOf the text bytes of each token id, {@code [vocab.size()][]} */
    protected VocabularyTokenizer(Vocabulary vocab, SpecialTokens special, SpecialTokenSplitter splitter, byte[][] bytesOf) {
        if (bytesOf.length != vocab.size()) {
            throw new IllegalArgumentException("token bytes for " + bytesOf.length + " ids, but the vocabulary has "
                    + vocab.size());
        }
        this.vocab = vocab;
        this.special = special;
        this.splitter = splitter;
        this.bytesOf = bytesOf;
    }

    public Vocabulary vocabulary() {
        return vocab;
    }

    public SpecialTokens specialTokens() {
        return special;
    }

    /**
     * Appends the tokens of one run of text without special tokens.
     *
     * @param afterSpecial the text starts the input or follows a special token
     */
    protected abstract void encodeText(String text, boolean afterSpecial, TokenIdList out);

    /**
     * How many leading bytes of the first token with text to leave out when decoding (a prefix that encoding
     * added); none by default.
     */
    protected int addedPrefixBytes(int id, byte[] bytes) {
        return 0;
    }

    @Override
    public final int[] encode(String text, boolean addBos, boolean parseSpecial) {
        TokenIdList out = new TokenIdList();
        if (addBos && special.bos() >= 0) {
            out.add(special.bos());
        }
        boolean afterSpecial = true; // the start of the input counts as following a special token
        for (SpecialTokenSplitter.Fragment fragment : splitter.split(text, parseSpecial)) {
            if (fragment.isText()) {
                encodeText(fragment.text, afterSpecial, out);
                afterSpecial = false;
            } else {
                out.add(fragment.token);
                afterSpecial = true;
            }
        }
        if (addBos && special.addEos()) {
            out.add(special.eos());
        }
        return out.toArray();
    }

    @Override
    public final String decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean first = true;
        for (int t : tokens) {
            byte[] b = bytes(t);
            if (b.length == 0) {
                continue;
            }
            int skip = first ? addedPrefixBytes(t, b) : 0;
            first = false;
            out.write(b, skip, b.length - skip);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public final byte[] tokenBytes(int id) {
        return bytes(id).clone();
    }

    private byte[] bytes(int id) {
        if (id < 0 || id >= bytesOf.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + bytesOf.length + ")");
        }
        return bytesOf[id];
    }

    @Override
    public final String piece(int id) {
        return vocab.piece(id);
    }

    @Override
    public final int vocabSize() {
        return vocab.size();
    }

    @Override
    public final int bos() {
        return special.bos();
    }

    @Override
    public final int eos() {
        return special.eos();
    }

    @Override
    public final boolean isEndOfGeneration(int id) {
        return special.isEndOfGeneration(id);
    }

    @Override
    public final boolean addBosByDefault() {
        return special.addBos();
    }
}
