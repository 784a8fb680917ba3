package io.inferstream.runtime.tokenizer;

/**
 * Text ↔ token ids, exactly as the reference implementation of the vocabulary does it
 * (llama.cpp for GGUF vocabularies, Hugging Face / tiktoken for their files).
 */
public interface Tokenizer {

    /**
     * @param addBos       prepend the BOS token (only if the vocabulary has one)
     * @param parseSpecial match special/control tokens written in the text (e.g. {@code <|im_start|>})
     *                     instead of tokenizing them as plain text
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Encodes plain text with the vocabulary's default BOS rule and no special-token parsing. */
    default int[] encode(String text) {
        return encode(text, addBosByDefault(), false);
    }

    /** The text of a token sequence (control tokens render as nothing, byte tokens as their bytes). */
    String decode(int[] tokens);

    /** The raw bytes one token stands for when decoded (empty for control tokens). */
    byte[] tokenBytes(int id);

    /** A decoder that emits text only once it forms complete UTF-8 characters. */
    default StreamingDecoder streamingDecoder() {
        return new StreamingDecoder(this);
    }

    /** The token's piece as stored in the vocabulary (for display and debugging). */
    String piece(int id);

    int vocabSize();

    /** BOS id, or -1 when the vocabulary has none. */
    int bos();

    /** EOS id, or -1. */
    int eos();

    /** True for every token that ends generation (EOS, EOT, {@code <|im_end|>}, ...). */
    boolean isEndOfGeneration(int id);

    /** Whether {@code encode(text)} prepends BOS (GGUF {@code tokenizer.ggml.add_bos_token}). */
    boolean addBosByDefault();
}
