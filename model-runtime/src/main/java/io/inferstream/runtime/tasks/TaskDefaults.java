package io.inferstream.runtime.tasks;

import io.inferstream.runtime.sampling.SamplingParams;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where task defaults live: what a {@link TaskRequest} gets for every field it leaves null.
 * {@link #standard()} holds the values documented in docs/tasks.md:
 *
 * <table>
 *   <caption>Per-task defaults</caption>
 *   <tr><th>task</th><th>max new tokens</th><th>sampling</th></tr>
 *   <tr><td>CLASSIFY</td><td>– (nothing is generated)</td><td>– (labels are scored)</td></tr>
 *   <tr><td>SUMMARIZE</td><td>96</td><td>greedy</td></tr>
 *   <tr><td>TRANSLATE</td><td>128</td><td>greedy</td></tr>
 *   <tr><td>GENERATE</td><td>256</td><td>temperature 0.8, top-k 40, top-p 0.95, min-p 0.05 (llama.cpp's)</td></tr>
 * </table>
 *
 * Summaries and translations are greedy so that the answer is the model's most likely one and a replayed
 * request gives the same output. A request without a seed samples with a seed derived from its id, for the
 * same reason.
 *
 * @param sampling           per generating task: sampling and max new tokens (stop strings and tokens are
 *                           added by the runner per prompt)
 * @param examples           per task: few-shot examples of the job (empty = zero-shot)
 * @param summaryStyle       target length or style of a summary when the request gives none
 * @param lengthNormalized   score a label by its mean token log-likelihood instead of the sum (favours long labels less)
 * @param multiLabel         CLASSIFY returns every label whose probability reaches {@code multiLabelThreshold}
 * @param multiLabelThreshold probability a label needs to be chosen in multi-label mode
 * @param contextTokens      the context the runner plans with (prompt + output); 0 = the model's context length.
 *                           Smaller values force chunking earlier (e.g. 512 for stories260K, which was trained
 *                           with 512 although its GGUF says 2048)
 */
public record TaskDefaults(
        Map<Task, SamplingParams> sampling,
        Map<Task, List<FewShotExample>> examples,
        String summaryStyle,
        boolean lengthNormalized,
        boolean multiLabel,
        double multiLabelThreshold,
        int contextTokens) {

    public static final int SUMMARIZE_MAX_NEW_TOKENS = 96;
    public static final int TRANSLATE_MAX_NEW_TOKENS = 128;
    public static final int GENERATE_MAX_NEW_TOKENS = 256;
    public static final String SUMMARY_STYLE = "one sentence";
    public static final double MULTI_LABEL_THRESHOLD = 0.5;

    public TaskDefaults {
        EnumMap<Task, SamplingParams> s = new EnumMap<>(Task.class);
        s.putAll(sampling);
        for (Task t : new Task[] {Task.SUMMARIZE, Task.TRANSLATE, Task.GENERATE}) {
            if (!s.containsKey(t)) {
                throw new IllegalArgumentException("task defaults need sampling parameters for " + t);
            }
        }
        sampling = s;
        EnumMap<Task, List<FewShotExample>> e = new EnumMap<>(Task.class);
        for (Task t : Task.values()) {
            e.put(t, List.copyOf(examples.getOrDefault(t, List.of())));
        }
        examples = e;
        if (!(multiLabelThreshold > 0 && multiLabelThreshold <= 1)) {
            throw new IllegalArgumentException("multi-label threshold must be in (0, 1], got " + multiLabelThreshold);
        }
        if (contextTokens < 0) {
            throw new IllegalArgumentException("context tokens must be >= 0 (0 = the model's), got " + contextTokens);
        }
    }

    public static TaskDefaults standard() {
        Map<Task, SamplingParams> s = new EnumMap<>(Task.class);
        s.put(Task.SUMMARIZE, SamplingParams.greedy(SUMMARIZE_MAX_NEW_TOKENS));
        s.put(Task.TRANSLATE, SamplingParams.greedy(TRANSLATE_MAX_NEW_TOKENS));
        s.put(Task.GENERATE, SamplingParams.greedy(GENERATE_MAX_NEW_TOKENS)
                .withTemperature(0.8f).withTopK(40).withTopP(0.95f).withMinP(0.05f));
        return new TaskDefaults(s, Map.of(), SUMMARY_STYLE, false, false, MULTI_LABEL_THRESHOLD, 0);
    }

    public SamplingParams samplingFor(Task task) {
        SamplingParams p = sampling.get(task);
        if (p == null) {
            throw new IllegalArgumentException("task " + task + " generates nothing: it has no sampling defaults");
        }
        return p;
    }

    public TaskDefaults withSampling(Task task, SamplingParams params) {
        Map<Task, SamplingParams> s = new EnumMap<>(sampling);
        s.put(task, params);
        return new TaskDefaults(s, examples, summaryStyle, lengthNormalized, multiLabel, multiLabelThreshold, contextTokens);
    }

    /** The same defaults with every generating task capped at {@code maxNewTokens}. */
    public TaskDefaults withMaxNewTokens(int maxNewTokens) {
        Map<Task, SamplingParams> s = new EnumMap<>(Task.class);
        sampling.forEach((t, p) -> s.put(t, p.withMaxNewTokens(maxNewTokens)));
        return new TaskDefaults(s, examples, summaryStyle, lengthNormalized, multiLabel, multiLabelThreshold, contextTokens);
    }

    public TaskDefaults withExamples(Task task, List<FewShotExample> list) {
        Map<Task, List<FewShotExample>> e = new EnumMap<>(examples);
        e.put(task, list);
        return new TaskDefaults(sampling, e, summaryStyle, lengthNormalized, multiLabel, multiLabelThreshold, contextTokens);
    }

    public TaskDefaults withSummaryStyle(String style) {
        return new TaskDefaults(sampling, examples, style, lengthNormalized, multiLabel, multiLabelThreshold, contextTokens);
    }

    public TaskDefaults withLengthNormalized(boolean on) {
        return new TaskDefaults(sampling, examples, summaryStyle, on, multiLabel, multiLabelThreshold, contextTokens);
    }

    public TaskDefaults withMultiLabel(boolean on, double threshold) {
        return new TaskDefaults(sampling, examples, summaryStyle, lengthNormalized, on, threshold, contextTokens);
    }

    public TaskDefaults withContextTokens(int n) {
        return new TaskDefaults(sampling, examples, summaryStyle, lengthNormalized, multiLabel, multiLabelThreshold, n);
    }
}
