package io.inferstream.jobs.decode;

import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.SamplingOptions;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks a decoded request before it costs any model time. Every problem found is named, with the
 * field and the allowed range, so a dead letter's reason tells the producer what to fix.
 */
public final class RequestValidator implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Default cap on the text's UTF-8 size: 256 KiB. */
    public static final int DEFAULT_MAX_TEXT_BYTES = 256 * 1024;

    private final int maxTextBytes;

    public RequestValidator(int maxTextBytes) {
        if (maxTextBytes <= 0) {
            throw new IllegalArgumentException("maxTextBytes must be > 0, got " + maxTextBytes);
        }
        this.maxTextBytes = maxTextBytes;
    }

    public RequestValidator() {
        this(DEFAULT_MAX_TEXT_BYTES);
    }

    public int maxTextBytes() {
        return maxTextBytes;
    }

    /** All problems with {@code request}; empty when it is valid. */
    public List<String> problems(InferenceRequest request) {
        List<String> problems = new ArrayList<>();
        if (request.getId() == null || request.getId().isBlank()) {
            problems.add("missing id: 'id' is empty");
        }
        if (request.getTask() == null) {
            problems.add("missing task");
        }
        String text = request.getText();
        if (text == null || text.isBlank()) {
            problems.add("empty text: 'text' is empty or only whitespace");
        } else {
            int bytes = utf8Length(text);
            if (bytes > maxTextBytes) {
                problems.add("text too large: " + bytes + " UTF-8 bytes, limit " + maxTextBytes);
            }
        }
        if (request.getTask() != null) {
            switch (request.getTask()) {
                case CLASSIFY:
                    checkLabels(request.getLabels(), problems);
                    break;
                case TRANSLATE:
                    if (request.getTargetLanguage() == null || request.getTargetLanguage().isBlank()) {
                        problems.add("TRANSLATE needs 'target_language'");
                    }
                    break;
                default:
                    break;
            }
        }
        Integer maxNew = request.getMaxNewTokens();
        if (maxNew != null && maxNew < 1) {
            problems.add("max_new_tokens must be >= 1, got " + maxNew);
        }
        if (request.getSampling() != null) {
            checkSampling(request.getSampling(), problems);
        }
        return problems;
    }

    private static void checkLabels(List<String> labels, List<String> problems) {
        if (labels == null || labels.isEmpty()) {
            problems.add("CLASSIFY needs at least one label in 'labels'");
            return;
        }
        for (int i = 0; i < labels.size(); i++) {
            if (labels.get(i) == null || labels.get(i).isBlank()) {
                problems.add("labels[" + i + "] is empty");
            }
        }
        if (labels.stream().distinct().count() != labels.size()) {
            problems.add("labels contain duplicates: " + labels);
        }
    }

    private static void checkSampling(SamplingOptions s, List<String> problems) {
        Double temperature = s.getTemperature();
        if (temperature != null && !(temperature >= 0 && Double.isFinite(temperature))) {
            problems.add("sampling.temperature must be >= 0, got " + temperature);
        }
        Integer topK = s.getTopK();
        if (topK != null && topK < 0) {
            problems.add("sampling.top_k must be >= 0, got " + topK);
        }
        Double topP = s.getTopP();
        if (topP != null && !(topP > 0 && topP <= 1)) {
            problems.add("sampling.top_p must be in (0, 1], got " + topP);
        }
        Double minP = s.getMinP();
        if (minP != null && !(minP >= 0 && minP <= 1)) {
            problems.add("sampling.min_p must be in [0, 1], got " + minP);
        }
        Double penalty = s.getRepetitionPenalty();
        if (penalty != null && !(penalty > 0 && Double.isFinite(penalty))) {
            problems.add("sampling.repetition_penalty must be > 0, got " + penalty);
        }
        Integer beams = s.getNumBeams();
        if (beams != null && beams < 1) {
            problems.add("sampling.num_beams must be >= 1, got " + beams);
        }
    }

    private static int utf8Length(String text) {
        return text.getBytes(StandardCharsets.UTF_8).length;
    }
}
