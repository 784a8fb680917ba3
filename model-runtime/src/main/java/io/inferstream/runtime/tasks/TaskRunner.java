package io.inferstream.runtime.tasks;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.ContinuationScore;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs {@link TaskRequest}s on an {@link Engine}: builds the task's prompt ({@link TaskPrompts}), submits the
 * engine work, and turns the engine's output into a {@link TaskResult}.
 *
 * <ul>
 *   <li>CLASSIFY scores every label as a continuation of the prompt ({@link LabelContinuations}), all submitted
 *       together: the engine computes the shared prompt once and the other labels take it from the prefix cache,
 *       computing only their own tokens. The label probabilities are the softmax of the label scores (sum of token
 *       log-probabilities, or their mean when length-normalised).</li>
 *   <li>SUMMARIZE and TRANSLATE generate with the task's stop rules and clean the answer
 *       ({@link OutputCleaner}). An input that does not fit the context with the output is split into
 *       sentence chunks ({@link SentenceChunker}): summaries are map-reduced (each chunk summarised, then the
 *       joined partial summaries summarised again), translations are translated chunk by chunk and joined.</li>
 *   <li>GENERATE continues the text (base model) or answers it (chat model).</li>
 * </ul>
 *
 * <p>A task may be given a timeout ({@link #start}): every engine call it makes carries the task's deadline, so
 * when the timeout passes the engine stops them itself and frees their KV blocks; {@link RunningTask#cancel} stops
 * them when the caller gives up first.
 *
 * <p>Thread-safe and asynchronous (futures complete on the engine's thread, so callers must not block in
 * their callbacks); {@link #run} never throws and its future never fails: a bad request, or a failure
 * anywhere, gives a result with finish reason ERROR and the reason in {@code error}.
 */
public final class TaskRunner {

    /** Prompt tokens kept free beyond the computed prompt overhead: joint tokenization at chunk edges may differ. */
    private static final int CHUNK_MARGIN_TOKENS = 4;
    /** Rounds of combining partial summaries before giving up. */
    private static final int MAX_REDUCE_ROUNDS = 4;

    private final Engine engine;
    private final Tokenizer tokenizer;
    private final TaskDefaults defaults;
    private final TaskPrompts prompts;
    private final String modelName;
    private final int contextTokens;
    /** Engine ids must be unique among requests in flight, across every runner sharing an engine. */
    private static final AtomicLong NEXT_CALL = new AtomicLong();

    /**
     * @param modelConfig the engine's model (its context length bounds every prompt + output)
     * @param template    the model's chat template; {@link ChatTemplate#plain()} (or null) for a base model
     */
    public TaskRunner(Engine engine, ModelConfig modelConfig, Tokenizer tokenizer, ChatTemplate template,
                      TaskDefaults defaults, String modelName) {
        this.engine = engine;
        this.tokenizer = tokenizer;
        this.defaults = defaults;
        this.prompts = new TaskPrompts(tokenizer, template, defaults);
        this.modelName = modelName;
        int model = modelConfig.contextLength();
        this.contextTokens = defaults.contextTokens() > 0 ? Math.min(defaults.contextTokens(), model) : model;
    }

    public TaskPrompts prompts() {
        return prompts;
    }

    public TaskDefaults defaults() {
        return defaults;
    }

    /** Prompt + output tokens the runner plans with. */
    public int contextTokens() {
        return contextTokens;
    }

    /** Runs one request without a timeout. Never throws; the future never completes exceptionally. */
    public CompletableFuture<TaskResult> run(TaskRequest request) {
        return start(request, null).result();
    }

    /**
     * Starts one request. If it is not done within {@code timeout} (null: no timeout) it finishes with DEADLINE and
     * its engine calls are stopped at the engine's next step; {@link RunningTask#cancel} stops it earlier. Never
     * throws; the result never completes exceptionally.
     */
    public RunningTask start(TaskRequest request, Duration timeout) {
        long start = System.nanoTime();
        RunningTask task;
        CompletableFuture<TaskResult> result;
        try {
            task = new RunningTask(engine, request, start, timeout);
        } catch (RuntimeException e) {
            task = new RunningTask(engine, request, start, null);
            task.setResult(CompletableFuture.completedFuture(
                    TaskResult.failed(request, modelName, FinishReason.ERROR, e.getMessage(), millisSince(start))));
            return task;
        }
        try {
            validate(request);
            result = switch (request.task()) {
                case CLASSIFY -> classify(request, task, start);
                case SUMMARIZE, TRANSLATE, GENERATE -> generateTask(request, task, start);
            };
        } catch (RuntimeException e) {
            result = CompletableFuture.failedFuture(e);
        }
        RunningTask running = task;
        running.setResult(result.exceptionally(t -> {
            // The first stop of the task (timeout, cancel, a failed call) says why, not whichever call failed last.
            FinishReason stopped = running.stopReason();
            if (stopped != null) {
                return TaskResult.failed(request, modelName, stopped, running.stopMessage(), millisSince(start));
            }
            Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
            FinishReason reason = cause instanceof CallFailed failed ? failed.reason : FinishReason.ERROR;
            String message = cause.getMessage() != null ? cause.getMessage() : cause.toString();
            return TaskResult.failed(request, modelName, reason, message, millisSince(start));
        }));
        return running;
    }

    private static void validate(TaskRequest r) {
        if (r == null) {
            throw new IllegalArgumentException("the request is null");
        }
        String id = r.id();
        if (r.task() == null) {
            throw new IllegalArgumentException("request " + id + " has no task (CLASSIFY, SUMMARIZE, TRANSLATE or GENERATE)");
        }
        if (r.text() == null || r.text().isBlank()) {
            throw new IllegalArgumentException("request " + id + " (" + r.task() + ") has no text");
        }
        if (r.maxNewTokens() != null && r.maxNewTokens() < 1) {
            throw new IllegalArgumentException("request " + id + ": max_new_tokens must be at least 1, got " + r.maxNewTokens());
        }
        switch (r.task()) {
            case CLASSIFY -> {
                if (r.labels().isEmpty()) {
                    throw new IllegalArgumentException("request " + id + " (CLASSIFY) has no labels");
                }
                if (r.labels().stream().anyMatch(l -> l == null || l.isBlank())) {
                    throw new IllegalArgumentException("request " + id + " (CLASSIFY) has an empty label: " + r.labels());
                }
                if (new HashSet<>(r.labels()).size() != r.labels().size()) {
                    throw new IllegalArgumentException("request " + id + " (CLASSIFY) repeats a label: " + r.labels());
                }
            }
            case TRANSLATE -> {
                if (r.targetLanguage() == null || r.targetLanguage().isBlank()) {
                    throw new IllegalArgumentException("request " + id + " (TRANSLATE) has no target_language");
                }
                LanguageNames.english(r.targetLanguage());
                if (r.sourceLanguage() != null) {
                    LanguageNames.english(r.sourceLanguage());
                }
            }
            default -> {
            }
        }
    }

    // ---------------------------------------------------------------- classification

    private CompletableFuture<TaskResult> classify(TaskRequest r, RunningTask task, long start) {
        TaskPrompt prompt = prompts.build(r, r.text());
        LabelContinuations lc = LabelContinuations.of(tokenizer, prompt, r.labels());
        int longest = 0;
        for (int[] c : lc.continuations()) {
            longest = Math.max(longest, c.length);
        }
        if (lc.prefix().length + longest > contextTokens) {
            throw new IllegalArgumentException("request " + r.id() + " (CLASSIFY): the prompt (" + lc.prefix().length
                    + " tokens) and its longest label (" + longest + ") exceed the context of " + contextTokens + " tokens");
        }
        int n = r.labels().size();
        // All labels at once: the scheduler lets one compute the shared prompt's blocks and the others wait
        // for them to be cached, so the prompt is computed once.
        List<CompletableFuture<ContinuationScore>> futures = new ArrayList<>();
        for (int l = 0; l < n; l++) {
            futures.add(task.score(callId(r), lc.prefix(), lc.continuations()[l]));
        }
        CompletableFuture<List<ContinuationScore>> all = CompletableFuture.allOf(futures.toArray(new CompletableFuture[0]))
                .thenApply(v -> futures.stream().map(CompletableFuture::join).toList());
        return all.thenApply(scores -> classification(r, task, lc, scores, start));
    }

    private TaskResult classification(TaskRequest r, RunningTask task, LabelContinuations lc, List<ContinuationScore> scores,
                                      long start) {
        for (ContinuationScore s : scores) {
            if (s.finishReason() != FinishReason.STOP) {
                // The first failed scoring stopped the task (and cancelled the others): report that one.
                FinishReason reason = task.stopReason() != null ? task.stopReason() : s.finishReason();
                String message = task.stopReason() != null ? task.stopMessage() : s.message();
                return new TaskResult(r.id(), r.task(), "", null, null, null, lc.scoredTokens(), 0, reason,
                        message, modelName, 0, millisSince(start), 0, 1, r.metadata());
            }
        }
        List<String> labels = r.labels();
        double[] logit = new double[labels.size()];
        for (int l = 0; l < logit.length; l++) {
            double sum = scores.get(l).sum();
            logit[l] = defaults.lengthNormalized() ? sum / lc.continuations()[l].length : sum;
        }
        double[] p = softmax(logit);
        Map<String, Double> probabilities = new LinkedHashMap<>();
        int best = 0;
        for (int l = 0; l < p.length; l++) {
            probabilities.put(labels.get(l), p[l]);
            if (p[l] > p[best]) {
                best = l;
            }
        }
        boolean multi = r.multiLabel() != null ? r.multiLabel() : defaults.multiLabel();
        List<String> chosen = new ArrayList<>();
        if (multi) {
            List<Integer> order = new ArrayList<>();
            for (int l = 0; l < p.length; l++) {
                if (p[l] >= defaults.multiLabelThreshold()) {
                    order.add(l);
                }
            }
            order.sort((a, b) -> Double.compare(p[b], p[a]));
            order.forEach(l -> chosen.add(labels.get(l)));
        } else {
            chosen.add(labels.get(best));
        }
        int batchSize = 0; // the most sequences in a step any of the label scorings ran in
        for (ContinuationScore score : scores) {
            batchSize = Math.max(batchSize, score.maxBatchSize());
        }
        return new TaskResult(r.id(), r.task(), String.join(", ", chosen), labels.get(best), chosen, probabilities,
                lc.scoredTokens(), 0, FinishReason.STOP, null, modelName, 0, millisSince(start), batchSize, 1, r.metadata());
    }

    /** exp(x_i - max) / Σ exp(x_j - max), in double. */
    static double[] softmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) {
            max = Math.max(max, v);
        }
        double[] p = new double[x.length];
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            p[i] = Math.exp(x[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < x.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    // ---------------------------------------------------------------- generation tasks

    private CompletableFuture<TaskResult> generateTask(TaskRequest r, RunningTask task, long start) {
        SamplingParams params = sampling(r);
        Calls calls = new Calls(task);
        CompletableFuture<String> output;
        int chunks;
        if (r.task() == Task.GENERATE || fits(r, r.text(), params)) {
            chunks = 1;
            output = answer(r, r.text(), params, calls);
        } else {
            List<String> parts = new SentenceChunker(tokenizer, r.sourceLanguage()).chunks(r.text(), textBudget(r, params));
            chunks = parts.size();
            output = r.task() == Task.SUMMARIZE ? mapReduce(r, parts, params, calls, 1) : translateChunks(r, parts, params, calls);
        }
        return output.thenApply(text -> calls.result(r, text, chunks, millisSince(start)));
    }

    private SamplingParams sampling(TaskRequest r) {
        SamplingParams p = defaults.samplingFor(r.task());
        if (r.maxNewTokens() != null) {
            p = p.withMaxNewTokens(r.maxNewTokens());
        }
        if (r.temperature() != null) {
            p = p.withTemperature(r.temperature());
        }
        if (r.topK() != null) {
            p = p.withTopK(r.topK());
        }
        if (r.topP() != null) {
            p = p.withTopP(r.topP());
        }
        if (r.minP() != null) {
            p = p.withMinP(r.minP());
        }
        if (r.repetitionPenalty() != null) {
            p = p.withRepetitionPenalty(r.repetitionPenalty());
        }
        if (r.numBeams() != null) {
            p = p.withBeams(r.numBeams(), p.lengthPenalty());
        }
        // Without a seed a request samples the same way every time it is replayed.
        return p.withSeed(r.seed() != null ? r.seed() : (r.id() == null ? 0 : r.id().hashCode()));
    }

    private boolean fits(TaskRequest r, String text, SamplingParams params) {
        return prompts.encode(prompts.build(r, text)).length + params.maxNewTokens() <= contextTokens;
    }

    /** Tokens of input text one prompt can hold next to its instruction and the output. */
    private int textBudget(TaskRequest r, SamplingParams params) {
        int overhead = prompts.encode(prompts.build(r, "")).length;
        int budget = contextTokens - params.maxNewTokens() - overhead - CHUNK_MARGIN_TOKENS;
        if (budget < 8) {
            throw new IllegalArgumentException("request " + r.id() + " (" + r.task() + "): a context of " + contextTokens
                    + " tokens leaves " + Math.max(budget, 0) + " for the input after the prompt (" + overhead
                    + " tokens) and max_new_tokens (" + params.maxNewTokens() + "); lower max_new_tokens");
        }
        return budget;
    }

    /** Summaries of each part, joined and summarised again until one prompt holds them. */
    private CompletableFuture<String> mapReduce(TaskRequest r, List<String> parts, SamplingParams params, Calls calls, int round) {
        List<CompletableFuture<String>> partial = new ArrayList<>();
        for (String part : parts) {
            partial.add(answer(r, part, params, calls));
        }
        return CompletableFuture.allOf(partial.toArray(new CompletableFuture[0])).thenCompose(v -> {
            StringBuilder joined = new StringBuilder();
            for (CompletableFuture<String> f : partial) {
                String s = f.join();
                if (!s.isEmpty()) {
                    joined.append(joined.length() == 0 ? "" : "\n").append(s);
                }
            }
            String combined = joined.toString();
            if (combined.isBlank()) {
                return CompletableFuture.completedFuture("");
            }
            if (fits(r, combined, params)) {
                return answer(r, combined, params, calls);
            }
            if (round >= MAX_REDUCE_ROUNDS) {
                throw new IllegalStateException("request " + r.id() + " (SUMMARIZE): the partial summaries still exceed the context after "
                        + round + " rounds of combining");
            }
            List<String> next = new SentenceChunker(tokenizer, null).chunks(combined, textBudget(r, params));
            return mapReduce(r, next, params, calls, round + 1);
        });
    }

    private CompletableFuture<String> translateChunks(TaskRequest r, List<String> parts, SamplingParams params, Calls calls) {
        List<CompletableFuture<String>> translated = new ArrayList<>();
        for (String part : parts) {
            translated.add(answer(r, part, params, calls));
        }
        String separator = LanguageNames.writtenWithoutSpaces(r.targetLanguage()) ? "" : " ";
        return CompletableFuture.allOf(translated.toArray(new CompletableFuture[0])).thenApply(v -> {
            List<String> out = new ArrayList<>();
            translated.forEach(f -> out.add(f.join()));
            return String.join(separator, out).strip();
        });
    }

    /** One engine generation for {@code input}: the cleaned answer (a failed call fails the future). */
    private CompletableFuture<String> answer(TaskRequest r, String input, SamplingParams params, Calls calls) {
        TaskPrompt prompt = prompts.build(r, input);
        int[] tokens = prompts.encode(prompt);
        List<String> stops = new ArrayList<>(params.stopStrings());
        stops.addAll(prompt.stopStrings());
        Request.Builder request = Request.builder(tokens).id(callId(r)).params(params.withStopStrings(stops));
        return calls.task.generate(request).thenApply(c -> {
            calls.add(c);
            if (c.finishReason() == FinishReason.ERROR || c.finishReason() == FinishReason.CANCELLED
                    || c.finishReason() == FinishReason.DEADLINE) {
                throw new CallFailed(c.finishReason(), c.message());
            }
            boolean plain = !prompt.parseSpecial();
            return r.task() == Task.GENERATE
                    ? c.text().strip()
                    : OutputCleaner.clean(c.text(), prompt.answerCue(), input, plain);
        });
    }

    private String callId(TaskRequest r) {
        return (r.id() == null ? "task" : r.id()) + "#" + NEXT_CALL.incrementAndGet();
    }

    private static double millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    /** An engine call ended with ERROR, CANCELLED or DEADLINE: the whole task ends that way. */
    private static final class CallFailed extends RuntimeException {
        final FinishReason reason;

        CallFailed(FinishReason reason, String message) {
            super(message);
            this.reason = reason;
        }
    }

    /** What the engine calls of one task add up to. Calls complete on the engine thread, one at a time. */
    private final class Calls {
        final RunningTask task;
        private int promptTokens;
        private int completionTokens;
        private double queueMs = Double.NaN;
        private int batchSize;
        private FinishReason lastReason = FinishReason.STOP;
        private boolean anyLength;

        Calls(RunningTask task) {
            this.task = task;
        }

        synchronized void add(Completion c) {
            promptTokens += c.promptTokens();
            completionTokens += c.generatedTokens();
            if (Double.isNaN(queueMs)) {
                queueMs = c.queueMillis();
            }
            batchSize = Math.max(batchSize, c.maxBatchSize());
            lastReason = c.finishReason();
            anyLength |= c.finishReason() == FinishReason.LENGTH;
        }

        synchronized TaskResult result(TaskRequest r, String text, int chunks, double elapsedMs) {
            double queue = Double.isNaN(queueMs) ? 0 : queueMs;
            // Over several calls, LENGTH anywhere means some part of the answer was cut short.
            FinishReason reason = chunks > 1 && anyLength ? FinishReason.LENGTH : lastReason;
            return new TaskResult(r.id(), r.task(), text, null, null, null, promptTokens, completionTokens, reason, null,
                    modelName, queue, Math.max(0, elapsedMs - queue), batchSize, chunks, r.metadata());
        }
    }
}
