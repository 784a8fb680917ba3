package io.inferstream.jobs.infer;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.ContinuationScore;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.tokenizer.ChatMessage;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * INTERIM task runner, standing in for {@code io.inferstream.runtime.tasks.TaskRunner} (branch {@code tasks})
 * until that is merged: it turns a task into prompts for the shared engine and the engine's answers into a
 * {@link TaskResult}. It runs the real model. CLASSIFY scores every label as a continuation of the prompt and
 * normalises the label likelihoods; the other tasks generate. It never throws for a bad request: the future
 * completes with an ERROR result that says why.
 */
public final class TaskRunner {
    private static final Map<String, String> LANGUAGES = Map.of(
            "en", "English", "de", "German", "fr", "French", "zh", "Chinese", "es", "Spanish", "it", "Italian",
            "ja", "Japanese", "pt", "Portuguese", "nl", "Dutch", "ru", "Russian");

    private final LoadedModel model;
    private final Engine engine;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final TaskDefaults defaults;
    private final Duration deadline; // null: none
    private final String modelName;
    private final AtomicLong sequence = new AtomicLong();
    private final Map<String, List<String>> engineIds = new ConcurrentHashMap<>(); // request id -> engine ids

    public TaskRunner(LoadedModel model, TaskDefaults defaults, Duration deadline) {
        this.model = model;
        this.engine = model.engine();
        this.tokenizer = model.tokenizer();
        this.template = model.chatTemplate();
        this.defaults = defaults;
        this.deadline = deadline;
        this.modelName = model.spec().modelName();
    }

    public String modelName() {
        return modelName;
    }

    public CompletableFuture<TaskResult> run(TaskRequest request) {
        try {
            return request.task() == TaskRequest.Task.CLASSIFY ? classify(request) : generate(request);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(TaskResult.error(request, modelName, "task failed: " + e));
        }
    }

    /** Cancels the engine work of a request (after its timeout); false when none is in flight. */
    public boolean cancel(String requestId) {
        List<String> ids = engineIds.remove(requestId);
        if (ids == null) {
            return false;
        }
        boolean any = false;
        for (String id : ids) {
            any |= engine.cancel(id);
        }
        return any;
    }

    // ------------------------------------------------------------------ generation tasks

    private CompletableFuture<TaskResult> generate(TaskRequest r) {
        int maxNew = defaults.maxNewTokensFor(r.maxNewTokens());
        Prompt prompt = fit(r, maxNew, 0);
        if (prompt.error != null) {
            return CompletableFuture.completedFuture(TaskResult.error(r, modelName, prompt.error));
        }
        SamplingParams params = sampling(r.sampling(), maxNew);
        String engineId = r.id() + "@" + sequence.incrementAndGet(); // unique even if a request id repeats
        engineIds.put(r.id(), List.of(engineId));
        Request.Builder b = Request.builder(prompt.tokens).id(engineId).params(params);
        if (deadline != null) {
            b.deadline(deadline);
        }
        return engine.submit(b.build()).thenApply(c -> {
            engineIds.remove(r.id());
            return fromCompletion(r, c);
        });
    }

    private TaskResult fromCompletion(TaskRequest r, Completion c) {
        boolean ok = c.finishReason() == FinishReason.STOP || c.finishReason() == FinishReason.LENGTH;
        String error = ok ? null : (c.message() == null || c.message().isEmpty() ? c.finishReason().name() : c.message());
        return new TaskResult(r.id(), r.task(), ok ? c.text() : null, null, Map.of(), c.promptTokens(),
                c.generatedTokens(), c.finishReason().name(), error, modelName, Math.round(c.queueMillis()),
                Math.round(c.computeMillis()), Math.max(1, c.maxBatchSize()), 1);
    }

    private static SamplingParams sampling(TaskRequest.SamplingOverrides o, int maxNew) {
        SamplingParams p = SamplingParams.greedy(maxNew);
        if (o == null) {
            return p;
        }
        if (o.temperature() != null) {
            p = p.withTemperature(o.temperature().floatValue());
        }
        if (o.topK() != null) {
            p = p.withTopK(o.topK());
        }
        if (o.topP() != null) {
            p = p.withTopP(o.topP().floatValue());
        }
        if (o.minP() != null) {
            p = p.withMinP(o.minP().floatValue());
        }
        if (o.repetitionPenalty() != null) {
            p = p.withRepetitionPenalty(o.repetitionPenalty().floatValue());
        }
        if (o.seed() != null) {
            p = p.withSeed(o.seed());
        }
        if (o.numBeams() != null && o.numBeams() > 1) {
            p = p.withBeams(o.numBeams(), 1f);
        }
        return p;
    }

    // ------------------------------------------------------------------ classification

    private CompletableFuture<TaskResult> classify(TaskRequest r) {
        List<int[]> labelTokens = new ArrayList<>();
        int longest = 0;
        for (String label : r.labels()) {
            int[] t = tokenizer.encode(" " + label, false, false);
            labelTokens.add(t);
            longest = Math.max(longest, t.length);
        }
        Prompt prompt = fit(r, 0, longest);
        if (prompt.error != null) {
            return CompletableFuture.completedFuture(TaskResult.error(r, modelName, prompt.error));
        }
        long start = System.nanoTime();
        List<String> ids = new ArrayList<>();
        List<CompletableFuture<ContinuationScore>> scores = new ArrayList<>();
        for (int i = 0; i < labelTokens.size(); i++) {
            String engineId = r.id() + "@" + sequence.incrementAndGet();
            ids.add(engineId);
            scores.add(engine.submitScore(engineId, prompt.tokens, labelTokens.get(i), 0));
        }
        engineIds.put(r.id(), ids);
        int read = prompt.tokens.length * labelTokens.size() + labelTokens.stream().mapToInt(t -> t.length).sum();
        return CompletableFuture.allOf(scores.toArray(new CompletableFuture[0])).thenApply(done -> {
            engineIds.remove(r.id());
            long computeMs = (System.nanoTime() - start) / 1_000_000;
            double[] logp = new double[scores.size()];
            for (int i = 0; i < scores.size(); i++) {
                ContinuationScore s = scores.get(i).join();
                if (s.finishReason() != FinishReason.STOP) {
                    String why = s.message() == null || s.message().isEmpty() ? s.finishReason().name() : s.message();
                    return new TaskResult(r.id(), r.task(), null, null, Map.of(), read, 0, s.finishReason().name(),
                            "scoring label '" + r.labels().get(i) + "': " + why, modelName, 0, computeMs, 1, 1);
                }
                logp[i] = s.sum();
            }
            double max = Arrays.stream(logp).max().orElse(0);
            double z = 0;
            for (double lp : logp) {
                z += Math.exp(lp - max);
            }
            Map<String, Double> probabilities = new LinkedHashMap<>();
            int best = 0;
            for (int i = 0; i < logp.length; i++) {
                probabilities.put(r.labels().get(i), Math.exp(logp[i] - max) / z);
                if (logp[i] > logp[best]) {
                    best = i;
                }
            }
            // The label scorings are submitted together and share the prompt's KV blocks; they run as one batch.
            return new TaskResult(r.id(), r.task(), null, r.labels().get(best), probabilities, read, 0, "STOP", null,
                    modelName, 0, computeMs, labelTokens.size(), 1);
        });
    }

    // ------------------------------------------------------------------ prompts

    /** Prompt token ids, or why the request cannot run. */
    private static final class Prompt {
        final int[] tokens;
        final String error;

        Prompt(int[] tokens, String error) {
            this.tokens = tokens;
            this.error = error;
        }
    }

    /** The prompt of {@code r}, cut to fit {@code reserve + extra} tokens after it when the policy says so. */
    private Prompt fit(TaskRequest r, int maxNew, int continuation) {
        int context = model.contextLength();
        int room = context - maxNew - continuation; // prompt tokens that fit
        String text = r.text();
        int[] tokens = encode(r, text);
        if (tokens.length <= room) {
            return new Prompt(tokens, null);
        }
        if (defaults.overlongPrompt() == OverlongPromptPolicy.ERROR || room < 1) {
            return new Prompt(null, "prompt too long: " + tokens.length + " tokens"
                    + (maxNew > 0 ? " + max_new_tokens " + maxNew : "") + (continuation > 0 ? " + label " + continuation : "")
                    + " exceed the model's context of " + context + " tokens (use --overlong-prompt=truncate to cut the text)");
        }
        // Cut the text, not the template around it, until the whole prompt fits.
        int[] textTokens = tokenizer.encode(text, false, false);
        int over = tokens.length - room;
        for (int attempt = 0; attempt < 4 && over > 0; attempt++) {
            int keep = Math.max(0, textTokens.length - over - 2 * attempt);
            textTokens = Arrays.copyOf(textTokens, keep);
            tokens = encode(r, tokenizer.decode(textTokens));
            over = tokens.length - room;
        }
        if (over > 0) {
            return new Prompt(null, "prompt too long: the template alone is " + tokens.length + " tokens, the context is "
                    + context + " tokens");
        }
        return new Prompt(tokens, null);
    }

    private int[] encode(TaskRequest r, String text) {
        String instruction = r.instruction() != null && !r.instruction().isBlank() ? r.instruction() : defaultInstruction(r);
        if (!template.isPlain()) {
            String user = instruction == null ? text : instruction + "\n\n" + text;
            String rendered = template.render(List.of(ChatMessage.user(user)), true);
            boolean addBos = tokenizer.addBosByDefault();
            String bosPiece = tokenizer.bos() >= 0 ? tokenizer.piece(tokenizer.bos()) : null;
            if (bosPiece != null && !bosPiece.isEmpty() && rendered.startsWith(bosPiece)) {
                addBos = false;
            }
            return tokenizer.encode(rendered, addBos && tokenizer.bos() >= 0, true);
        }
        String plain = switch (r.task()) {
            case GENERATE -> instruction == null ? text : instruction + "\n" + text;
            case SUMMARIZE -> instruction + "\n" + text + "\nSummary:";
            case TRANSLATE -> instruction + "\n" + text + "\nTranslation:";
            case CLASSIFY -> instruction + "\n" + text + "\nAnswer:";
        };
        return tokenizer.encode(plain);
    }

    private static String defaultInstruction(TaskRequest r) {
        return switch (r.task()) {
            case SUMMARIZE -> "Summarize the following text in one sentence.";
            case TRANSLATE -> "Translate the following text" + (r.sourceLanguage() == null ? "" : " from " + language(r.sourceLanguage()))
                    + " into " + language(r.targetLanguage()) + ".";
            case CLASSIFY -> "Classify the following text as one of: " + String.join(", ", r.labels()) + ".";
            case GENERATE -> null;
        };
    }

    private static String language(String code) {
        return LANGUAGES.getOrDefault(code.toLowerCase(Locale.ROOT), code);
    }
}
