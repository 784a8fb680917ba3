package io.inferstream.runtime.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Builds a byte-level BPE tokenizer from Hugging Face files: a {@code tokenizer.json}, or
 * {@code vocab.json} + {@code merges.txt}, each optionally with a {@code tokenizer_config.json} beside it
 * for the added/special tokens, BOS/EOS names and add_bos/add_eos flags.
 */
final class HuggingFaceVocabularyReader {

    private static final ObjectMapper JSON = new ObjectMapper();

    private HuggingFaceVocabularyReader() {
    }

    /** An added token: from tokenizer.json {@code added_tokens} or tokenizer_config {@code added_tokens_decoder}. */
    private static final class AddedToken {
        final int id;
        final String content;
        final boolean special;
        final boolean lstrip;
        final boolean rstrip;

        AddedToken(int id, JsonNode n) {
            this.id = id;
            this.content = n.path("content").asText();
            this.special = n.path("special").asBoolean(false);
            this.lstrip = n.path("lstrip").asBoolean(false);
            this.rstrip = n.path("rstrip").asBoolean(false);
        }
    }

    static Tokenizer readTokenizerJson(Path file) {
        return readTokenizerJson(file, 0);
    }

    /** @param minVocab ids below it that the files leave undefined become unused padding (a model's vocab_size) */
    static Tokenizer readTokenizerJson(Path file, int minVocab) {
        JsonNode root = readJson(file);
        JsonNode model = root.path("model");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException(file + ": model.type is '" + type + "', only byte-level 'BPE' is supported");
        }
        if (!isByteLevel(root.path("pre_tokenizer")) && !isByteLevel(root.path("decoder"))) {
            throw new IllegalArgumentException(file + ": not a byte-level BPE tokenizer (no ByteLevel pre_tokenizer or decoder);"
                    + " a SentencePiece-style tokenizer.json is read through the tokenizer.model it was made from (put it beside"
                    + " this file) or from a GGUF");
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        if (vocab.isEmpty()) {
            throw new IllegalArgumentException(file + ": model.vocab is missing or empty");
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isArray()) {
                merges.add(m.get(0).asText() + " " + m.get(1).asText()); // newer format: ["Ġ", "t"]
            } else {
                merges.add(m.asText());
            }
        }
        List<AddedToken> added = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            added.add(new AddedToken(t.path("id").asInt(), t));
        }
        boolean nfc = normalizerIsNfc(file, root.path("normalizer"));
        List<String> stages = new ArrayList<>();
        preTokenizerStages(file, root.path("pre_tokenizer"), stages);
        PreTokenizer pre = new PreTokenizer("tokenizer.json", nfc, stages);
        JsonNode config = readConfigBeside(file.getParent());
        return build(file, vocab, merges.toArray(new String[0]), added, config, pre,
                model.path("ignore_merges").asBoolean(false), templateBos(root.path("post_processor")), minVocab);
    }

    static Tokenizer readVocabAndMerges(Path dir) {
        return readVocabAndMerges(dir, 0);
    }

    static Tokenizer readVocabAndMerges(Path dir, int minVocab) {
        Path vocabFile = dir.resolve("vocab.json");
        Path mergesFile = dir.resolve("merges.txt");
        Map<String, Integer> vocab = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = readJson(vocabFile).fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        List<String> merges = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(mergesFile, StandardCharsets.UTF_8)) {
                if (line.isEmpty() || (merges.isEmpty() && line.startsWith("#version"))) {
                    continue; // the optional "#version: 0.2" header
                }
                merges.add(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + mergesFile, e);
        }
        JsonNode config = readConfigBeside(dir);
        List<AddedToken> added = new ArrayList<>();
        if (config != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = config.path("added_tokens_decoder").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                added.add(new AddedToken(Integer.parseInt(e.getKey()), e.getValue()));
            }
        }
        String tokenizerClass = config == null ? "" : config.path("tokenizer_class").asText("");
        String preName = tokenizerClass.toLowerCase(Locale.ROOT).startsWith("qwen2") ? "qwen2" : "gpt-2";
        return build(vocabFile, vocab, merges.toArray(new String[0]), added, config, PreTokenizer.forName(preName), false, null, minVocab);
    }

    private static Tokenizer build(Path source, Map<String, Integer> vocabMap, String[] merges, List<AddedToken> added,
                                   JsonNode config, PreTokenizer pre, boolean ignoreMerges, String templateBos, int minVocab) {
        int n = minVocab;
        for (int id : vocabMap.values()) {
            n = Math.max(n, id + 1);
        }
        for (AddedToken t : added) {
            n = Math.max(n, t.id + 1);
        }
        String[] pieces = new String[n];
        TokenType[] types = new TokenType[n];
        for (Map.Entry<String, Integer> e : vocabMap.entrySet()) {
            if (e.getValue() < 0) {
                throw new IllegalArgumentException(source + ": token '" + e.getKey() + "' has negative id " + e.getValue());
            }
            pieces[e.getValue()] = e.getKey();
            types[e.getValue()] = TokenType.NORMAL;
        }
        BitSet lstrip = new BitSet();
        BitSet rstrip = new BitSet();
        boolean anyAdded = !added.isEmpty();
        for (AddedToken t : added) {
            pieces[t.id] = t.content;
            types[t.id] = t.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
            lstrip.set(t.id, t.lstrip);
            rstrip.set(t.id, t.rstrip);
        }
        for (int i = 0; i < n; i++) {
            if (pieces[i] == null) {
                pieces[i] = "[PAD" + i + "]"; // an id nobody defined: never produced, never matched
                types[i] = TokenType.UNUSED;
            }
        }
        Vocabulary vocab = new Vocabulary(pieces, null, types);
        if (!anyAdded) {
            // Plain GPT-2 files list <|endoftext|> in vocab.json without marking it: it is GPT-2's special token.
            int eot = vocab.id("<|endoftext|>");
            if (eot >= 0) {
                vocab.setType(eot, TokenType.CONTROL);
            }
        }
        int bos = tokenId(vocab, config, "bos_token", source);
        int eos = tokenId(vocab, config, "eos_token", source);
        int unk = tokenId(vocab, config, "unk_token", source);
        if (config == null) {
            eos = vocab.id("<|endoftext|>");
            bos = eos; // GPT-2: <|endoftext|> is both
        }
        boolean addBos = config != null && config.path("add_bos_token").asBoolean(false);
        if (templateBos != null && vocab.id(templateBos) >= 0) {
            // tokenizer.json's post-processor prepends this token (Llama 3 style): that is the BOS rule.
            bos = vocab.id(templateBos);
            addBos = config == null || config.path("add_bos_token").asBoolean(true);
        }
        boolean addEos = config != null && config.path("add_eos_token").asBoolean(false);
        SpecialTokens special = SpecialTokens.resolve(vocab, bos, eos, -1, -1, unk, addBos, addEos);
        MergeRanks ranks = MergeRanks.fromMerges(merges, source.toString());
        return new ByteLevelBpeTokenizer(vocab, special, new SpecialTokenSplitter(vocab, lstrip, rstrip), pre, ranks, ignoreMerges);
    }

    /** A token named in tokenizer_config ({@code "bos_token": "<s>"} or {@code {"content": "<s>", ...}}), or -1. */
    private static int tokenId(Vocabulary vocab, JsonNode config, String key, Path source) {
        if (config == null) {
            return -1;
        }
        JsonNode v = config.path(key);
        String text = v.isTextual() ? v.asText() : v.isObject() ? v.path("content").asText(null) : null;
        if (text == null) {
            return -1;
        }
        int id = vocab.id(text);
        if (id < 0) {
            throw new IllegalArgumentException(source + ": tokenizer_config " + key + " '" + text + "' is not in the vocabulary");
        }
        return id;
    }

    /** The special token a TemplateProcessing post-processor puts before a single sequence, or null. */
    private static String templateBos(JsonNode post) {
        if (post.isMissingNode() || post.isNull()) {
            return null;
        }
        if ("Sequence".equals(post.path("type").asText())) {
            for (JsonNode p : post.path("processors")) {
                String bos = templateBos(p);
                if (bos != null) {
                    return bos;
                }
            }
            return null;
        }
        if (!"TemplateProcessing".equals(post.path("type").asText())) {
            return null;
        }
        JsonNode first = post.path("single").path(0);
        return first.has("SpecialToken") ? first.path("SpecialToken").path("id").asText(null) : null;
    }

    /** Whether a tokenizer.json is byte-level BPE (what {@link #readTokenizerJson} reads), not SentencePiece-style. */
    static boolean isByteLevelTokenizerJson(Path file) {
        JsonNode root = readJson(file);
        return isByteLevel(root.path("pre_tokenizer")) || isByteLevel(root.path("decoder"));
    }

    private static boolean isByteLevel(JsonNode node) {
        if (node.isMissingNode() || node.isNull()) {
            return false;
        }
        if ("ByteLevel".equals(node.path("type").asText())) {
            return true;
        }
        for (JsonNode child : node.path("pretokenizers")) {
            if (isByteLevel(child)) {
                return true;
            }
        }
        for (JsonNode child : node.path("decoders")) {
            if (isByteLevel(child)) {
                return true;
            }
        }
        return false;
    }

    private static boolean normalizerIsNfc(Path file, JsonNode n) {
        if (n.isMissingNode() || n.isNull()) {
            return false;
        }
        String type = n.path("type").asText();
        if (type.equals("NFC")) {
            return true;
        }
        if (type.equals("Sequence") && n.path("normalizers").size() == 0) {
            return false;
        }
        if (type.equals("Sequence") && n.path("normalizers").size() == 1) {
            return normalizerIsNfc(file, n.path("normalizers").get(0));
        }
        throw new IllegalArgumentException(file + ": normalizer " + n + " is not supported (only none or NFC)");
    }

    /** Translates HF pre-tokenizers into regex stages (each stage isolates its matches). */
    private static void preTokenizerStages(Path file, JsonNode n, List<String> stages) {
        if (n.isMissingNode() || n.isNull()) {
            return;
        }
        String type = n.path("type").asText();
        switch (type) {
            case "Sequence":
                for (JsonNode child : n.path("pretokenizers")) {
                    preTokenizerStages(file, child, stages);
                }
                return;
            case "ByteLevel":
                if (n.path("add_prefix_space").asBoolean(false)) {
                    throw new IllegalArgumentException(file + ": ByteLevel add_prefix_space=true is not supported");
                }
                if (n.path("use_regex").asBoolean(true)) {
                    stages.add(PreTokenizer.GPT2);
                }
                return;
            case "Digits":
                stages.add(n.path("individual_digits").asBoolean(false) ? PreTokenizer.DIGITS : "\\p{N}+");
                return;
            case "Split": {
                String behavior = n.path("behavior").asText();
                if (!behavior.equals("Isolated") || n.path("invert").asBoolean(false)) {
                    throw new IllegalArgumentException(file + ": Split pre-tokenizer with behavior '" + behavior
                            + "' / invert is not supported (only Isolated)");
                }
                JsonNode pattern = n.path("pattern");
                if (pattern.has("Regex")) {
                    stages.add(pattern.get("Regex").asText());
                } else if (pattern.has("String")) {
                    stages.add(java.util.regex.Pattern.quote(pattern.get("String").asText()));
                } else {
                    throw new IllegalArgumentException(file + ": Split pre-tokenizer without a pattern: " + n);
                }
                return;
            }
            default:
                throw new IllegalArgumentException(file + ": pre_tokenizer type '" + type + "' is not supported"
                        + " (expected Sequence, ByteLevel, Digits or Split)");
        }
    }

    static JsonNode readConfigBeside(Path dir) {
        if (dir == null) {
            return null;
        }
        Path config = dir.resolve("tokenizer_config.json");
        return Files.isRegularFile(config) ? readJson(config) : null;
    }

    static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + " does not exist or is not a file");
        }
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }
}
