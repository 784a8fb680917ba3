package io.inferstream.runtime.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.inferstream.runtime.testing.SharedModels;

/**
 * llama.cpp's tokenizer test vectors ({@code models/ggml-vocab-*.gguf.inp/.out}): inputs separated by
 * {@code "\n__ggml_vocab_test__\n"}, expected ids one line per input (add_special=false, parse_special=false).
 */
final class LlamaCppVectors {

    static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    final List<String> inputs;
    final List<int[]> expected;

    private LlamaCppVectors(List<String> inputs, List<int[]> expected) {
        this.inputs = inputs;
        this.expected = expected;
    }

    static LlamaCppVectors load(String vocab) {
        Path inp = SharedModels.require("llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf.inp");
        Path out = SharedModels.require("llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf.out");
        try {
            String all = Files.readString(inp, StandardCharsets.UTF_8);
            if (!all.endsWith(SEPARATOR)) {
                throw new IllegalStateException(inp + " does not end with the separator");
            }
            List<String> inputs = new ArrayList<>();
            int from = 0;
            for (int at = all.indexOf(SEPARATOR); at >= 0; at = all.indexOf(SEPARATOR, from)) {
                inputs.add(all.substring(from, at));
                from = at + SEPARATOR.length();
            }
            List<int[]> expected = new ArrayList<>();
            for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
                String t = line.trim();
                expected.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split(" +")).mapToInt(Integer::parseInt).toArray());
            }
            if (inputs.size() != expected.size()) {
                throw new IllegalStateException(inp + " has " + inputs.size() + " inputs but " + out + " has " + expected.size() + " lines");
            }
            return new LlamaCppVectors(inputs, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    int size() {
        return inputs.size();
    }

    /** Every input whose encoding differs from the expected ids, described for a failure message. */
    List<String> mismatches(Tokenizer tokenizer) {
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            int[] got = tokenizer.encode(inputs.get(i), false, false);
            if (!Arrays.equals(got, expected.get(i))) {
                bad.add("#" + i + " " + quote(inputs.get(i)) + ": expected " + Arrays.toString(expected.get(i))
                        + " got " + Arrays.toString(got));
            }
        }
        return bad;
    }

    static String quote(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
