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
 * Reads a SentencePiece {@code .model} file (the protobuf ModelProto of Llama 2 style Hugging Face repos and
 * llama2.c's {@code tok512.model}) into the SentencePiece BPE tokenizer. Only the fields the tokenizer needs
 * are decoded: pieces (piece, score, type — whose codes equal GGUF's token types), the trainer's
 * unk/bos/eos ids and the normalizer's add_dummy_prefix.
 */
final class SentencePieceModelReader {

    private SentencePieceModelReader() {
    }

    /** True when the file starts like a ModelProto: field 1 (pieces), length-delimited. */
    static boolean looksLikeSentencePieceModel(Path file) {
        try (var in = Files.newInputStream(file)) {
            return in.read() == 0x0A;
        } catch (IOException e) {
            return false;
        }
    }

    static Tokenizer read(Path file) {
        ByteBuffer buf;
        try {
            buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<TokenType> types = new ArrayList<>();
        int unk = 0;
        int bos = 1;
        int eos = 2;
        boolean addDummyPrefix = true;
        try {
            while (buf.hasRemaining()) {
                long tag = varint(buf);
                int field = (int) (tag >>> 3);
                int wire = (int) (tag & 7);
                if (field == 1 && wire == 2) {
                    ByteBuffer piece = sub(buf);
                    String text = "";
                    float score = 0;
                    int type = 1;
                    while (piece.hasRemaining()) {
                        long t = varint(piece);
                        int f = (int) (t >>> 3);
                        int w = (int) (t & 7);
                        if (f == 1 && w == 2) {
                            ByteBuffer s = sub(piece);
                            byte[] b = new byte[s.remaining()];
                            s.get(b);
                            text = new String(b, StandardCharsets.UTF_8);
                        } else if (f == 2 && w == 5) {
                            score = piece.getFloat();
                        } else if (f == 3 && w == 0) {
                            type = (int) varint(piece);
                        } else {
                            skip(piece, w);
                        }
                    }
                    pieces.add(text);
                    scores.add(score);
                    types.add(TokenType.fromCode(type));
                } else if (field == 2 && wire == 2) {
                    ByteBuffer trainer = sub(buf);
                    while (trainer.hasRemaining()) {
                        long t = varint(trainer);
                        int f = (int) (t >>> 3);
                        int w = (int) (t & 7);
                        if (w == 0 && (f == 40 || f == 41 || f == 42)) {
                            int v = (int) varint(trainer); // int32: -1 arrives as a 10-byte varint, truncates to -1
                            if (f == 40) {
                                unk = v;
                            } else if (f == 41) {
                                bos = v;
                            } else {
                                eos = v;
                            }
                        } else {
                            skip(trainer, w);
                        }
                    }
                } else if (field == 3 && wire == 2) {
                    ByteBuffer normalizer = sub(buf);
                    while (normalizer.hasRemaining()) {
                        long t = varint(normalizer);
                        int f = (int) (t >>> 3);
                        int w = (int) (t & 7);
                        if (f == 3 && w == 0) {
                            addDummyPrefix = varint(normalizer) != 0;
                        } else {
                            skip(normalizer, w);
                        }
                    }
                } else {
                    skip(buf, wire);
                }
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a valid SentencePiece model (protobuf ModelProto): " + e.getMessage(), e);
        }
        if (pieces.isEmpty()) {
            throw new IllegalArgumentException(file + ": SentencePiece model without pieces");
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        Vocabulary vocab = new Vocabulary(pieces.toArray(new String[0]), s, types.toArray(new TokenType[0]));
        SpecialTokens special = SpecialTokens.resolve(vocab, bos, eos, -1, -1, unk, true, false);
        return new SentencePieceTokenizer(vocab, special, new SpecialTokenSplitter(vocab), addDummyPrefix);
    }

    private static long varint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int x = b.get() & 0xFF;
            v |= (long) (x & 0x7F) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        throw new IllegalArgumentException("varint longer than 10 bytes at offset " + b.position());
    }

    private static ByteBuffer sub(ByteBuffer b) {
        int len = (int) varint(b);
        if (len < 0 || len > b.remaining()) {
            throw new IllegalArgumentException("length " + len + " at offset " + b.position() + " runs past the end");
        }
        ByteBuffer s = b.slice();
        s.limit(len);
        s.order(ByteOrder.LITTLE_ENDIAN);
        b.position(b.position() + len);
        return s;
    }

    private static void skip(ByteBuffer b, int wire) {
        switch (wire) {
            case 0:
                varint(b);
                break;
            case 1:
                b.position(b.position() + 8);
                break;
            case 2:
                sub(b);
                break;
            case 5:
                b.position(b.position() + 4);
                break;
            default:
                throw new IllegalArgumentException("unsupported protobuf wire type " + wire + " at offset " + b.position());
        }
    }
}
