package io.inferstream.jobs.infer;

import java.util.List;
import java.util.Map;

/**
 * INTERIM copy of the task layer's request ({@code io.inferstream.runtime.tasks.TaskRequest}, being written
 * on branch {@code tasks}); replaced by it when that branch is merged. One request for one task on one text.
 *
 * @param maxNewTokens null: the runner's default
 * @param sampling     per-request overrides; null fields keep the runner's defaults
 */
public record TaskRequest(
        String id,
        Task task,
        String text,
        List<String> labels,
        String sourceLanguage,
        String targetLanguage,
        String instruction,
        Integer maxNewTokens,
        SamplingOverrides sampling,
        Map<String, String> metadata) {

    public enum Task { CLASSIFY, SUMMARIZE, TRANSLATE, GENERATE }

    /** Sampling settings a request may set; null means the runner's default. */
    public record SamplingOverrides(Double temperature, Integer topK, Double topP, Double minP,
                                    Double repetitionPenalty, Long seed, Integer numBeams) {
        public static final SamplingOverrides NONE = new SamplingOverrides(null, null, null, null, null, null, null);
    }
}
