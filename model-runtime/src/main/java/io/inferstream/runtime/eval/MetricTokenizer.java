package io.inferstream.runtime.eval;

import java.util.List;

/**
 * Splits a text into the tokens an overlap metric (ROUGE, token F1) counts. Not the model's tokenizer:
 * these are words (or ideographs), chosen to match the reference metric implementations.
 */
@FunctionalInterface
public interface MetricTokenizer {

    List<String> tokenize(String text);
}
