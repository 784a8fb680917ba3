package io.inferstream.runtime.eval;

import java.util.List;
import java.util.Map;

/**
 * One labelled example of an evaluation set (sample-data/eval/*.jsonl): the request fields the task needs
 * plus what a correct answer looks like — {@code expectedLabel} for CLASSIFY, {@code reference} (a
 * reference summary or translation) for SUMMARIZE and TRANSLATE.
 *
 * @param task            upper-case task name: CLASSIFY, SUMMARIZE, TRANSLATE or GENERATE
 * @param sourceLanguage  ISO 639-1 code or null
 * @param targetLanguage  ISO 639-1 code or null
 * @param maxNewTokens    null for the job's default
 * @param expectedLabel   gold label (CLASSIFY), else null
 * @param reference       reference text (SUMMARIZE, TRANSLATE), else null
 */
public record EvalExample(
        String id,
        String task,
        String text,
        List<String> labels,
        String sourceLanguage,
        String targetLanguage,
        String instruction,
        Integer maxNewTokens,
        Map<String, String> metadata,
        String expectedLabel,
        String reference) {

    public EvalExample {
        labels = labels == null ? List.of() : List.copyOf(labels);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }
}
