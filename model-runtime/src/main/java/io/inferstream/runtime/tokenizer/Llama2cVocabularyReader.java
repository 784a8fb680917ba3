package io.inferstream.runtime.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads llama2.c's {@code tokenizer.bin} / {@code tok512.bin}: int32 max_token_length, then per token
 * float32 score, int32 byte length, UTF-8 bytes (little-endian). llama2.c writes the SentencePiece {@code ▁}
 * as a plain space and BOS/EOS as {@code "\n<s>\n"}/{@code "\n</s>\n"}; this restores the SentencePiece
 * pieces and types (0 unknown, 1 BOS, 2 EOS, 3..258 byte tokens {@code <0x00>}..{@code <0xFF>}), giving
 * the same vocabulary llama.cpp's converter writes into GGUF.
 */
final class Llama2cVocabularyReader {

    private Llama2cVocabularyReader() {
    }

    /** @param vocabSize tokens to read, or -1 to read to the end of the file */
    static Tokenizer read(Path file, int vocabSize) {
        ByteBuffer buf;
        try {
            buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (buf.remaining() < 4) {
            throw new IllegalArgumentException(file + ": too short for a llama2.c tokenizer (no max_token_length)");
        }
        int maxLen = buf.getInt();
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (vocabSize < 0 ? buf.hasRemaining() : pieces.size() < vocabSize) {
            int id = pieces.size();
            if (buf.remaining() < 8) {
                throw new IllegalArgumentException(file + ": truncated at token " + id + " (expected float32 score, int32 length)");
            }
            float score = buf.getFloat();
            int len = buf.getInt();
            if (len < 0 || len > buf.remaining() || len > maxLen) {
                throw new IllegalArgumentException(file + ": token " + id + " has length " + len + " (max_token_length "
                        + maxLen + ", " + buf.remaining() + " bytes left)");
            }
            byte[] b = new byte[len];
            buf.get(b);
            pieces.add(new String(b, StandardCharsets.UTF_8));
            scores.add(score);
        }
        int n = pieces.size();
        if (n < 259) {
            throw new IllegalArgumentException(file + ": " + n + " tokens, expected at least 259 (unk, BOS, EOS, 256 bytes)");
        }
        String[] p = new String[n];
        float[] s = new float[n];
        TokenType[] types = new TokenType[n];
        for (int i = 0; i < n; i++) {
            s[i] = scores.get(i);
            String piece = pieces.get(i);
            if (i == 0) {
                types[i] = TokenType.UNKNOWN;
                p[i] = "<unk>";
            } else if (i == 1 || i == 2) {
                types[i] = TokenType.CONTROL;
                p[i] = piece.strip(); // "\n<s>\n" -> "<s>"
            } else if (i <= 258) {
                types[i] = TokenType.BYTE;
                p[i] = piece;
                if (!piece.equals(String.format("<0x%02X>", i - 3))) {
                    throw new IllegalArgumentException(file + ": token " + i + " is '" + piece + "', expected byte token <0x"
                            + String.format("%02X", i - 3) + ">");
                }
            } else {
                types[i] = TokenType.NORMAL;
                p[i] = piece.replace(' ', SentencePieceTokenizer.SPACE);
            }
        }
        Vocabulary vocab = new Vocabulary(p, s, types);
        SpecialTokens special = SpecialTokens.resolve(vocab, 1, 2, -1, -1, 0, true, false);
        return new SentencePieceTokenizer(vocab, special, new SpecialTokenSplitter(vocab), true);
    }
}
