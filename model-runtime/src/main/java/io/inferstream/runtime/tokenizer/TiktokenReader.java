package io.inferstream.runtime.tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * Reads a tiktoken ranks file ({@code <base64 bytes> <rank>} per line, e.g. Meta's Llama 3
 * {@code tokenizer.model}) into a byte-level BPE tokenizer: pieces are the token bytes in the GPT-2
 * byte-to-unicode alphabet, two parts merge when their concatenation has a rank, and a pre-token that is
 * itself a token is emitted directly (tiktoken, HF {@code ignore_merges}).
 */
final class TiktokenReader {

    /** Llama 3 special tokens, ids 128000.. (meta-llama/llama3 llama/tokenizer.py). */
    static final int LLAMA3_SPECIAL_BASE = 128000;
    static final int LLAMA3_SPECIAL_COUNT = 256;

    private TiktokenReader() {
    }

    /** True when the file's first line looks like {@code <base64> <int>}. */
    static boolean looksLikeTiktoken(Path file) {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            String line = r.readLine();
            return line != null && line.matches("[A-Za-z0-9+/=]+ [0-9]+");
        } catch (IOException e) {
            return false;
        }
    }

    static Tokenizer readLlama3(Path file) {
        List<String> pieces = new ArrayList<>(128_000);
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isEmpty()) {
                    continue;
                }
                int sp = line.indexOf(' ');
                int rank;
                byte[] bytes;
                try {
                    bytes = Base64.getDecoder().decode(line.substring(0, sp));
                    rank = Integer.parseInt(line.substring(sp + 1));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(file + " line " + lineNo + ": expected '<base64 bytes> <rank>', got '" + line + "'", e);
                }
                if (rank != pieces.size()) {
                    throw new IllegalArgumentException(file + " line " + lineNo + ": rank " + rank + ", expected "
                            + pieces.size() + " (ranks must be contiguous from 0)");
                }
                pieces.add(ByteUnicode.encode(bytes));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (pieces.size() > LLAMA3_SPECIAL_BASE) {
            throw new IllegalArgumentException(file + ": " + pieces.size() + " ranks overlap the Llama 3 special ids from "
                    + LLAMA3_SPECIAL_BASE);
        }
        while (pieces.size() < LLAMA3_SPECIAL_BASE) {
            pieces.add("[PAD" + pieces.size() + "]");
        }
        int nNormal = pieces.size();
        pieces.addAll(llama3SpecialTokens());
        String[] p = pieces.toArray(new String[0]);
        TokenType[] types = new TokenType[p.length];
        Arrays.fill(types, TokenType.NORMAL);
        Arrays.fill(types, nNormal, p.length, TokenType.CONTROL);
        Vocabulary vocab = new Vocabulary(p, null, types);
        int bos = vocab.id("<|begin_of_text|>");
        int eos = vocab.id("<|end_of_text|>");
        int eot = vocab.id("<|eot_id|>");
        // 128008 is <|eom_id|> from Llama 3.1 on (a reserved, never-produced token in 3.0): ends generation either way.
        SpecialTokens special = SpecialTokens.resolve(vocab, bos, eos, eot, LLAMA3_SPECIAL_BASE + 8, -1, true, false);
        return new ByteLevelBpeTokenizer(vocab, special, new SpecialTokenSplitter(vocab), PreTokenizer.forName("llama-bpe"),
                MergeRanks.fromTokenRanks(vocab), true);
    }

    /**
     * The 256 names, ids 128000..128255, in Llama 3.0's order: begin/end_of_text, reserved 0-3, start/end header,
     * reserved 4, eot_id, then reserved 5..250.
     */
    static List<String> llama3SpecialTokens() {
        List<String> names = new ArrayList<>(List.of(
                "<|begin_of_text|>", "<|end_of_text|>",
                "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
                "<|start_header_id|>", "<|end_header_id|>",
                "<|reserved_special_token_4|>", "<|eot_id|>"));
        for (int i = 5; names.size() < LLAMA3_SPECIAL_COUNT; i++) {
            names.add("<|reserved_special_token_" + i + "|>");
        }
        return names;
    }
}
