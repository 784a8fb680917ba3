package io.inferstream.runtime.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the pieces byte-level BPE works inside: optional NFC normalization, then one or more
 * regex stages (each stage splits every piece of the previous one into its matches and the gaps between
 * them, as llama.cpp's unicode_regex_split and HF's Sequence pre-tokenizer do).
 *
 * <p>Patterns use {@link Pattern#UNICODE_CHARACTER_CLASS} so that {@code \s} is Unicode White_Space (not
 * just ASCII) and {@code \p{L}}/{@code \p{N}} work on code points (surrogate pairs included). The
 * case-insensitive contractions are spelled out as ASCII classes, as llama.cpp does, so no Unicode case
 * folding (e.g. {@code ſ} ~ {@code s}) sneaks in.
 */
public final class PreTokenizer {

    /** GPT-2 (OpenAI encoder.py, HF ByteLevel use_regex=true, llama.cpp pre "gpt-2"). */
    static final String GPT2 =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Llama 3 (Meta tokenizer.py, llama.cpp pre "llama-bpe"): digits in groups of up to three. */
    static final String LLAMA3 =
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** Qwen2 (HF Qwen2Tokenizer, llama.cpp pre "qwen2"): like Llama 3 but single digits. */
    static final String QWEN2 =
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /**
     * GPT-4o's o200k (tokenizer.json of Phi-4-mini, llama.cpp pre "gpt-4o"): a word is an optional non-letter, then
     * capitals followed by lowercase (or the reverse), so "HelloWorld" is two pieces, with a contraction as its suffix;
     * digits in threes; a punctuation run takes the newlines and slashes after it.
     */
    static final String GPT4O =
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                    + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                    + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** HF Digits(individual_digits=true): every digit is its own piece. */
    static final String DIGITS = "\\p{N}";

    private final String name;
    private final boolean nfc;
    private final List<Pattern> stages;

    PreTokenizer(String name, boolean nfc, List<String> regexes) {
        this.name = name;
        this.nfc = nfc;
        this.stages = new ArrayList<>();
        for (String r : regexes) {
            stages.add(Pattern.compile(r, Pattern.UNICODE_CHARACTER_CLASS));
        }
    }

    /**
     * The pre-tokenizer for a GGUF {@code tokenizer.ggml.pre} name.
     *
     * @throws IllegalArgumentException for a name this runtime does not implement
     */
    public static PreTokenizer forName(String pre) {
        String p = pre == null ? "default" : pre.toLowerCase(Locale.ROOT);
        switch (p) {
            case "default":
            case "gpt-2":
            case "gpt2":
            case "phi-2":
                return new PreTokenizer(p, false, List.of(GPT2));
            case "llama3":
            case "llama-v3":
            case "llama-bpe":
            case "falcon3":
                return new PreTokenizer(p, false, List.of(LLAMA3));
            case "gpt-4o":
                return new PreTokenizer(p, false, List.of(GPT4O));
            case "qwen2":
            case "deepseek-r1-qwen":
                return new PreTokenizer(p, true, List.of(QWEN2));
            case "smollm":
            case "starcoder":
            case "refact":
                return new PreTokenizer(p, false, List.of(DIGITS, GPT2));
            default:
                throw new IllegalArgumentException("unsupported pre-tokenizer '" + pre
                        + "' (tokenizer.ggml.pre): expected one of default, gpt-2, llama-bpe/llama3, qwen2, smollm, gpt-4o");
        }
    }

    public String name() {
        return name;
    }

    /** The pieces of the text, in order; their concatenation is the (normalized) text. */
    public List<String> split(String text) {
        if (nfc) {
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
        }
        List<String> pieces = new ArrayList<>();
        pieces.add(text);
        for (Pattern stage : stages) {
            List<String> next = new ArrayList<>(pieces.size() * 4);
            for (String piece : pieces) {
                splitOne(stage, piece, next);
            }
            pieces = next;
        }
        return pieces;
    }

    private static void splitOne(Pattern pattern, String text, List<String> out) {
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) {
                out.add(text.substring(last, m.start())); // text no alternative matched stays a piece
            }
            if (m.end() > m.start()) {
                out.add(text.substring(m.start(), m.end()));
            }
            last = m.end();
        }
        if (last < text.length()) {
            out.add(text.substring(last));
        }
    }
}
