package io.inferstream.runtime.tasks;

import java.util.List;
import java.util.Map;

/**
 * One task for the {@link TaskRunner}: a plain-Java mirror of the Avro {@code InferenceRequest} (the jobs
 * module maps between them), plus the prompt options the Avro record does not carry. Every field except
 * {@code id}, {@code task} and {@code text} may be null, meaning "the {@link TaskDefaults} value". Nothing
 * is validated here: {@link TaskRunner#run} reports a bad request as a result with finish reason ERROR.
 *
 * @param labels            CLASSIFY: the candidate labels, in order (the probabilities come back in this order)
 * @param sourceLanguage    TRANSLATE: ISO 639 code of the text (null: the prompt does not name it)
 * @param targetLanguage    TRANSLATE: ISO 639 code to translate into
 * @param instruction       replaces the task's default instruction (the text and answer cue stay)
 * @param style             SUMMARIZE: target length or style, e.g. "one sentence", "three bullet points"
 * @param examples          few-shot examples (null or empty: those of the defaults, usually none = zero-shot)
 * @param multiLabel        CLASSIFY: return every label whose probability reaches the threshold
 * @param maxNewTokens      generated tokens at most
 * @param temperature       sampling overrides (see {@link io.inferstream.runtime.sampling.SamplingParams})
 * @param numBeams          beam width; only 1 runs in the batching engine (more finishes with ERROR)
 * @param metadata          carried through untouched
 */
public record TaskRequest(
        String id,
        Task task,
        String text,
        List<String> labels,
        String sourceLanguage,
        String targetLanguage,
        String instruction,
        String style,
        List<FewShotExample> examples,
        Boolean multiLabel,
        Integer maxNewTokens,
        Float temperature,
        Integer topK,
        Float topP,
        Float minP,
        Float repetitionPenalty,
        Long seed,
        Integer numBeams,
        Map<String, String> metadata) {

    public TaskRequest {
        labels = labels == null ? List.of() : List.copyOf(labels);
        examples = examples == null ? List.of() : List.copyOf(examples);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    public static Builder builder(String id, Task task, String text) {
        return new Builder(id, task, text);
    }

    /** Fluent construction; unset fields are null (the defaults apply). */
    public static final class Builder {
        private final String id;
        private final Task task;
        private final String text;
        private List<String> labels;
        private String sourceLanguage;
        private String targetLanguage;
        private String instruction;
        private String style;
        private List<FewShotExample> examples;
        private Boolean multiLabel;
        private Integer maxNewTokens;
        private Float temperature;
        private Integer topK;
        private Float topP;
        private Float minP;
        private Float repetitionPenalty;
        private Long seed;
        private Integer numBeams;
        private Map<String, String> metadata;

        private Builder(String id, Task task, String text) {
            this.id = id;
            this.task = task;
            this.text = text;
        }

        public Builder labels(List<String> v) { labels = v; return this; }
        public Builder sourceLanguage(String v) { sourceLanguage = v; return this; }
        public Builder targetLanguage(String v) { targetLanguage = v; return this; }
        public Builder instruction(String v) { instruction = v; return this; }
        public Builder style(String v) { style = v; return this; }
        public Builder examples(List<FewShotExample> v) { examples = v; return this; }
        public Builder multiLabel(Boolean v) { multiLabel = v; return this; }
        public Builder maxNewTokens(Integer v) { maxNewTokens = v; return this; }
        public Builder temperature(Float v) { temperature = v; return this; }
        public Builder topK(Integer v) { topK = v; return this; }
        public Builder topP(Float v) { topP = v; return this; }
        public Builder minP(Float v) { minP = v; return this; }
        public Builder repetitionPenalty(Float v) { repetitionPenalty = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder numBeams(Integer v) { numBeams = v; return this; }
        public Builder metadata(Map<String, String> v) { metadata = v; return this; }

        public TaskRequest build() {
            return new TaskRequest(id, task, text, labels, sourceLanguage, targetLanguage, instruction, style, examples,
                    multiLabel, maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, seed, numBeams, metadata);
        }
    }
}
