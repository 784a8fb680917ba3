package io.inferstream.runtime.engine;

import io.inferstream.runtime.kv.KvCacheManager;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.sampling.Sampler;
import io.inferstream.runtime.tensor.VectorMath;
import io.inferstream.runtime.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Continuous-batching inference over one model: a step-loop thread runs
 * {@code Scheduler.schedule() → ModelRunner.execute() → per-sequence Sampler} until there is no work,
 * then sleeps until a request arrives. Every call here is thread-safe; futures and token listeners are
 * completed on the step thread.
 */
public final class Engine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

    private final ModelConfig modelConfig;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final KvCacheManager kv;
    private final Scheduler scheduler;
    private final LanguageModel model;
    private final ModelRunner runner;
    /** The KV cache's pools, closed with the engine: on a GPU, most of the device's memory. */
    private final KvStore store;
    private final KvCacheSizing kvCacheSizing;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Sequence> incoming = new ConcurrentLinkedQueue<>();
    private final Map<String, Sequence> inFlight = new ConcurrentHashMap<>();
    private final AtomicLong nextSequenceId = new AtomicLong();
    private final Object wakeup = new Object();
    private volatile boolean closing;
    private volatile boolean abandon;
    private volatile String failure;
    private volatile EngineMetrics snapshot;
    private volatile Consumer<EngineMetrics> metricsListener;

    // Step-thread counters behind the metrics.
    private long steps;
    private long promptTokensComputed;
    private long generatedTokens;
    private long draftTokens;
    private long acceptedDraftTokens;
    private long stepNanosTotal;
    private long lastStepNanos;
    private long finished;
    private long cancelled;
    private long deadlineExceeded;
    private final long[] batchHistogram;
    // Futures of sequences finished during a step: completed after the step's metrics snapshot is
    // published, so a caller that sees its future done also sees metrics that include it.
    private final List<Runnable> completions = new ArrayList<>();

    /**
     * @param tokenizer decodes text, encodes text prompts, knows end-of-generation tokens; may be null
     *                  (token-only use: then only stop tokens and lengths end generation)
     */
    public Engine(LanguageModel model, Tokenizer tokenizer, EngineConfig config) {
        this.model = model;
        this.modelConfig = model.config();
        this.tokenizer = tokenizer;
        EngineConfig requested = config;
        config = config.resolveKvCache(model); // an auto budget from the device's memory plan (or the CPU default)
        this.config = config;
        this.kvCacheSizing = KvCacheSizing.of(requested, config, modelConfig, model.kvCacheBudget());
        LOG.info("{}", kvCacheSizing);
        int numBlocks = kvCacheSizing.blocks();
        this.kv = new KvCacheManager(numBlocks, config.blockSize(), config.prefixCaching());
        this.store = model.newKvStore(numBlocks, config.blockSize(), config.kvPrecision());
        this.scheduler = new Scheduler(config, kv);
        this.runner = new ModelRunner(model, store, kv, config.logitCandidates().use(model));
        this.batchHistogram = new long[config.maxSequences() + 1];
        this.snapshot = buildSnapshot();
        this.thread = new Thread(this::loop, "inferstream-engine");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public EngineConfig config() {
        return config;
    }

    /** The model's hyper-parameters (context length, vocabulary). */
    public ModelConfig modelConfig() {
        return modelConfig;
    }

    /**
     * Why this engine can run nothing more, or empty while it can: its step loop failed (an error such as running out
     * of memory), or a step failed and its model is {@link LanguageModel#unusable() unusable} since (a GPU's context
     * lost to a sticky error). Every request pending then, and every one submitted after, finishes with ERROR and this
     * message. It is the owner's cue to replace the engine: such a failure is not the requests' (the jobs' inference
     * operator fails its task instead, so that Flink restarts it from its checkpoint on a newly loaded engine).
     */
    public Optional<String> failure() {
        return Optional.ofNullable(failure);
    }

    /** How big the KV cache is and why (said in the log when the engine starts). */
    public KvCacheSizing kvCacheSizing() {
        return kvCacheSizing;
    }

    /** KV blocks in the pool (from the memory budget). */
    public int numKvBlocks() {
        return kv.numBlocks();
    }

    /** Queues a generation request. The future never fails: problems finish it with reason ERROR. */
    public CompletableFuture<Completion> submit(Request request) {
        SamplingParams params = request.params();
        Sampler sampler = new Sampler(params);
        RequestProgress progress = RequestProgress.generation(request, sampler,
                tokenizer == null ? null : tokenizer.streamingDecoder());
        int[] prompt = request.promptTokens();
        String problem = null;
        if (prompt == null) {
            if (tokenizer == null) {
                problem = "request " + request.id() + " has a text prompt but the engine has no tokenizer";
                prompt = new int[0];
            } else {
                prompt = tokenizer.encode(request.promptText());
            }
        }
        long maxLength = (long) prompt.length + Math.max(0, params.maxNewTokens());
        Sequence s = new Sequence(nextSequenceId.getAndIncrement(), request.id(), Sequence.Kind.GENERATE, prompt,
                prompt.length, prompt.length - 1, (int) Math.min(maxLength, Integer.MAX_VALUE),
                request.priority(), request.arrivalNanos(), request.deadlineNanos());
        s.attach(progress);
        if (problem == null) {
            problem = neverFits(s, params);
        }
        enqueue(s, problem);
        return progress.completion;
    }

    /**
     * Queues a scoring request: the log-probability of each continuation token given the prefix and the
     * continuation tokens before it. Runs through the same scheduler and prefix cache as generation;
     * nothing is sampled.
     */
    public CompletableFuture<ContinuationScore> submitScore(int[] prefixTokens, int[] continuationTokens) {
        return submitScore("score-" + nextSequenceId.get(), prefixTokens, continuationTokens, 0);
    }

    public CompletableFuture<ContinuationScore> submitScore(String id, int[] prefixTokens, int[] continuationTokens, int priority) {
        return submitScore(id, prefixTokens, continuationTokens, priority, Long.MAX_VALUE);
    }

    /**
     * As {@link #submitScore(String, int[], int[], int)}, finishing with DEADLINE (its blocks freed) if not scored by
     * {@code deadlineNanos} ({@link System#nanoTime()}; Long.MAX_VALUE = none).
     */
    public CompletableFuture<ContinuationScore> submitScore(String id, int[] prefixTokens, int[] continuationTokens, int priority,
                                                            long deadlineNanos) {
        RequestProgress progress = RequestProgress.scoring(continuationTokens.clone());
        if (continuationTokens.length == 0) {
            progress.score.complete(new ContinuationScore(id, new float[0], FinishReason.STOP, "", 0, 0));
            return progress.score;
        }
        // The model reads prefix + all but the last continuation token; logits from the prefix's last token on.
        int[] tokens = Arrays.copyOf(prefixTokens, prefixTokens.length + continuationTokens.length - 1);
        System.arraycopy(continuationTokens, 0, tokens, prefixTokens.length, continuationTokens.length - 1);
        Sequence s = new Sequence(nextSequenceId.getAndIncrement(), id, Sequence.Kind.SCORE, tokens, tokens.length,
                prefixTokens.length - 1, tokens.length, priority, System.nanoTime(), deadlineNanos);
        s.attach(progress);
        String problem = null;
        if (prefixTokens.length == 0) {
            problem = "scoring " + id + ": the prefix is empty; the first continuation token needs at least one token (e.g. BOS) before it";
        } else if (tokens.length > modelConfig.contextLength()) {
            problem = "scoring " + id + ": prefix + continuation = " + (tokens.length + 1) + " tokens exceed the model's context of "
                    + modelConfig.contextLength();
        } else if (kv.blocksFor(tokens.length) > kv.numBlocks()) {
            problem = "scoring " + id + ": " + tokens.length + " tokens need " + kv.blocksFor(tokens.length)
                    + " KV blocks but the whole cache has " + kv.numBlocks() + "; raise --kv-cache-memory";
        }
        enqueue(s, problem);
        return progress.score;
    }

    /** Why a generation request can never run, or null. */
    private String neverFits(Sequence s, SamplingParams params) {
        String id = s.requestId();
        if (s.promptLength() == 0) {
            return "request " + id + ": the prompt is empty";
        }
        if (params.maxNewTokens() < 1) {
            return "request " + id + ": maxNewTokens must be at least 1, got " + params.maxNewTokens();
        }
        if (params.numBeams() > 1) {
            return "request " + id + ": beam search (numBeams=" + params.numBeams() + ") is not run by the batching engine";
        }
        long total = (long) s.promptLength() + params.maxNewTokens();
        if (total > modelConfig.contextLength()) {
            return "request " + id + ": prompt (" + s.promptLength() + " tokens) + maxNewTokens (" + params.maxNewTokens()
                    + ") = " + total + " exceeds the model's context length of " + modelConfig.contextLength();
        }
        long blocks = (total + kv.blockSize() - 1) / kv.blockSize();
        if (blocks > kv.numBlocks()) {
            return "request " + id + ": prompt + maxNewTokens = " + total + " tokens need " + blocks
                    + " KV blocks but the whole cache has " + kv.numBlocks() + " (" + config.kvCacheBytes()
                    + " bytes); raise --kv-cache-memory";
        }
        return null;
    }

    private void enqueue(Sequence s, String problem) {
        if (closing) {
            problem = failure != null ? failure : "engine is closed; request " + s.requestId() + " was not run";
        } else if (problem == null && inFlight.putIfAbsent(s.requestId(), s) != null) {
            problem = "request id " + s.requestId() + " is already in flight";
        }
        if (problem != null) {
            complete(s, FinishReason.ERROR, problem);
            return;
        }
        incoming.add(s);
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
    }

    /** Cancels a request by id; it finishes with CANCELLED at the next step. False if it is not in flight. */
    public boolean cancel(String requestId) {
        Sequence s = inFlight.get(requestId);
        if (s == null) {
            return false;
        }
        s.progress().cancelled = true;
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
        return true;
    }

    /** The latest metrics snapshot. */
    public EngineMetrics metrics() {
        return snapshot;
    }

    /** Called on the step thread with a fresh snapshot after every step (null to stop). */
    public void setMetricsListener(Consumer<EngineMetrics> listener) {
        this.metricsListener = listener;
    }

    /** Stops taking requests, finishes every pending one, then stops the step thread. */
    @Override
    public void close() {
        closing = true;
        stopThread();
    }

    /** Stops taking requests and finishes every pending one at once with CANCELLED. */
    public void shutdownNow() {
        closing = true;
        abandon = true;
        stopThread();
    }

    private void stopThread() {
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // the step thread may still use the store
        }
        // Freed now, not when the store is collected: beside another model on the device, nothing else frees it, and a
        // job restarted there would find its own old KV cache in the way.
        store.close();
    }

    // ---------------------------------------------------------------- step thread

    private void loop() {
        try {
            while (true) {
                drainIncoming();
                if (abandon) {
                    for (Sequence s : scheduler.all()) {
                        finish(s, FinishReason.CANCELLED, "engine shut down before request " + s.requestId() + " finished");
                    }
                    publish();
                    return;
                }
                expire();
                if (!completions.isEmpty()) {
                    publish();
                }
                if (!scheduler.hasWork()) {
                    if (closing && incoming.isEmpty()) {
                        return;
                    }
                    synchronized (wakeup) {
                        if (incoming.isEmpty() && !closing) {
                            wakeup.wait(50);
                        }
                    }
                    continue;
                }
                step();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ModelUnusableException e) {
            failure = "engine failed: " + e.getMessage();
            LOG.error(failure);
        } catch (Throwable t) {
            LOG.error("engine step loop failed", t);
            failure = "engine failed: " + t;
        } finally {
            // Whatever is still here (a failure, or a submit that raced with close) is not left hanging.
            closing = true;
            drainIncoming();
            for (Sequence s : scheduler.all()) {
                finish(s, FinishReason.ERROR, failure != null ? failure
                        : "engine is closed; request " + s.requestId() + " was not run");
            }
            publish();
        }
    }

    /** The model's own account of whether it can still run (a question to its device), never throwing. */
    private Optional<String> unusable() {
        try {
            return model.unusable();
        } catch (RuntimeException e) {
            return Optional.of("asking whether it can still run failed: " + e);
        }
    }

    /** A step failed and the model cannot run another: ends the step loop. */
    private static final class ModelUnusableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ModelUnusableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private void drainIncoming() {
        Sequence s;
        while ((s = incoming.poll()) != null) {
            scheduler.add(s);
        }
    }

    /** Finishes cancelled requests and those past their deadline, wherever they are. */
    private void expire() {
        long now = System.nanoTime();
        for (Sequence s : scheduler.all()) {
            if (s.progress().cancelled) {
                finish(s, FinishReason.CANCELLED, "request " + s.requestId() + " was cancelled");
            } else if (now > s.deadlineNanos()) {
                finish(s, FinishReason.DEADLINE, "request " + s.requestId() + " passed its deadline");
            }
        }
    }

    private void step() {
        long start = System.nanoTime();
        SchedulerOutput out = scheduler.schedule();
        for (Sequence s : out.preempted()) {
            // Its rows are computed again from the start: log-probs recorded so far would repeat.
            s.progress().numLogprobs = s.kind() == Sequence.Kind.SCORE ? 0 : s.progress().numLogprobs;
        }
        if (out.isEmpty()) {
            publish(); // preemptions, if any, are visible; nothing could run (should not persist)
            return;
        }
        StepOutput result;
        try {
            result = runner.execute(out);
        } catch (RuntimeException e) {
            LOG.error("forward step over {} sequences failed", out.chunks().size(), e);
            scheduler.update(out);
            Optional<String> lost = unusable();
            if (lost.isPresent()) {
                // No later step can run either: the loop ends, failing this step's requests and all others.
                throw new ModelUnusableException("model forward failed: " + e + "; the model can no longer run: " + lost.get(), e);
            }
            for (ScheduledChunk c : out.chunks()) {
                finish(c.sequence(), FinishReason.ERROR, "model forward failed: " + e);
            }
            publish();
            return;
        }
        scheduler.update(out);
        int batch = out.chunks().size();
        long now = System.nanoTime();
        for (int c = 0; c < batch; c++) {
            ScheduledChunk chunk = out.chunks().get(c);
            Sequence s = chunk.sequence();
            RequestProgress p = s.progress();
            p.ranInBatch(batch, start);
            promptTokensComputed += Math.max(0, Math.min(chunk.start() + chunk.length(), s.promptLength()) - chunk.start());
            try {
                if (s.kind() == Sequence.Kind.SCORE) {
                    scoreRows(s, result, c);
                } else if (chunk.reachesEnd()) {
                    sampleRows(s, chunk, result, c, now);
                }
            } catch (RuntimeException e) {
                // One request's failure (say, a sampler rejecting its parameters) ends that request only.
                LOG.error("request {} failed after a step", s.requestId(), e);
                finish(s, FinishReason.ERROR, "request " + s.requestId() + " failed: " + e);
            }
        }
        long end = System.nanoTime();
        steps++;
        lastStepNanos = end - start;
        stepNanosTotal += lastStepNanos;
        batchHistogram[Math.min(batch, batchHistogram.length - 1)]++;
        publish();
    }

    /** Publishes a metrics snapshot, then completes the futures of requests that finished since the last one. */
    private void publish() {
        snapshot = buildSnapshot();
        Consumer<EngineMetrics> listener = metricsListener;
        if (listener != null) {
            try {
                listener.accept(snapshot);
            } catch (RuntimeException e) {
                LOG.warn("metrics listener threw", e);
            }
        }
        for (Runnable r : completions) {
            r.run();
        }
        completions.clear();
    }

    private void scoreRows(Sequence s, StepOutput result, int chunk) {
        RequestProgress p = s.progress();
        int rows = result.rowCount()[chunk];
        int vocab = result.vocabSize();
        for (int r = 0; r < rows; r++) {
            int target = p.scoreTargets[p.numLogprobs];
            p.addLogprob(logSoftmaxAt(result.logits(), (result.firstRow()[chunk] + r) * vocab, vocab, target));
        }
        if (s.remaining() == 0) {
            finish(s, FinishReason.STOP, "");
        }
    }

    /** log softmax(row)[target]. */
    static float logSoftmaxAt(float[] logits, int offset, int vocab, int target) {
        return (float) (logits[offset + target] - VectorMath.logSumExp(logits, offset, vocab));
    }

    /**
     * Samples a decoding chunk's rows in order, exactly as one step per token would: the first row gives the next
     * token; while that token equals the guess that ran after it (speculative decoding), the guess's row gives the
     * token after. Tokens, stop checks and listeners are the same as without guesses, for any sampler: each row's
     * logits are those a lone decode step would give, and the sampler sees the same history.
     */
    private void sampleRows(Sequence s, ScheduledChunk chunk, StepOutput result, int c, long now) {
        int[] drafts = chunk.drafts();
        int row = result.firstRow()[c] + result.rowCount()[c] - 1 - drafts.length;
        int accepted = 0;
        while (true) {
            int token = sampleAt(s, result, row, now);
            if (s.status() == Sequence.Status.FINISHED || accepted == drafts.length || token != drafts[accepted]) {
                break;
            }
            accepted++;
            row++;
        }
        draftTokens += drafts.length;
        acceptedDraftTokens += accepted;
        s.recordDrafts(drafts.length, accepted);
        if (s.status() != Sequence.Status.FINISHED) {
            scheduler.acceptDrafts(s, accepted);
        }
    }

    /** Samples the token after the sequence from logits row {@code row}, appends it, and finishes the request if it ends it. */
    private int sampleAt(Sequence s, StepOutput result, int row, long now) {
        RequestProgress p = s.progress();
        SamplingParams params = p.request.params();
        int token = result.candidates() != null
                ? p.sampler.sample(result.candidates(), row, s.tokens(), s.length())
                : p.sampler.sample(result.logits(), row * result.vocabSize(), result.vocabSize(), s.tokens(), s.length());
        s.append(token);
        generatedTokens++;
        if (p.firstTokenNanos < 0) {
            p.firstTokenNanos = now;
        }
        if (params.logprobs()) {
            p.addLogprob(p.sampler.lastLogprob());
        }
        boolean endToken = params.stopTokens().contains(token) || (tokenizer != null && tokenizer.isEndOfGeneration(token));
        String delta = "";
        FinishReason reason = null;
        if (endToken) {
            reason = FinishReason.STOP;
        } else if (p.decoder != null) {
            delta = p.decoder.accept(token);
            int before = p.text.length();
            p.text.append(delta);
            int cut = stopStringIndex(p.text, before, params.stopStrings());
            if (cut >= 0) {
                p.text.setLength(cut);
                delta = cut > before ? delta.substring(0, cut - before) : "";
                reason = FinishReason.STOP;
            }
        }
        if (reason == null && s.generatedLength() >= params.maxNewTokens()) {
            reason = FinishReason.LENGTH;
        }
        TokenListener listener = p.request.listener();
        if (listener != null) {
            try {
                listener.onToken(s.requestId(), token, delta);
            } catch (RuntimeException e) {
                LOG.warn("token listener of request {} threw", s.requestId(), e);
            }
        }
        if (reason != null) {
            finish(s, reason, "");
        }
        return token;
    }

    /** Start of the first stop string in {@code text} that ends after {@code before}, or -1. */
    private static int stopStringIndex(StringBuilder text, int before, List<String> stops) {
        int best = -1;
        for (String stop : stops) {
            if (stop.isEmpty()) {
                continue;
            }
            int i = text.indexOf(stop, Math.max(0, before - stop.length() + 1));
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    /** Removes the sequence from the scheduler, frees its blocks and completes its future. */
    private void finish(Sequence s, FinishReason reason, String message) {
        if (s.status() == Sequence.Status.FINISHED) {
            return;
        }
        scheduler.finish(s);
        finished++;
        if (reason == FinishReason.CANCELLED) {
            cancelled++;
        } else if (reason == FinishReason.DEADLINE) {
            deadlineExceeded++;
        }
        completions.add(() -> complete(s, reason, message));
    }

    private void complete(Sequence s, FinishReason reason, String message) {
        inFlight.remove(s.requestId(), s);
        RequestProgress p = s.progress();
        if (s.kind() == Sequence.Kind.SCORE) {
            float[] lps = reason == FinishReason.STOP ? Arrays.copyOf(p.logprobs, p.numLogprobs) : new float[0];
            p.score.complete(new ContinuationScore(s.requestId(), lps, reason, message, s.cachedTokens(), p.maxBatch));
            return;
        }
        if (p.decoder != null && reason != FinishReason.STOP) {
            p.text.append(p.decoder.flush());
        }
        long now = System.nanoTime();
        long arrival = s.arrivalNanos();
        long firstScheduled = p.firstScheduledNanos < 0 ? now : p.firstScheduledNanos;
        int[] generated = Arrays.copyOfRange(s.tokens(), s.promptLength(), s.length());
        p.completion.complete(new Completion(
                s.requestId(),
                p.text.toString(),
                generated,
                reason,
                message,
                s.promptLength(),
                s.cachedTokens(),
                (firstScheduled - arrival) / 1e6,
                (now - firstScheduled) / 1e6,
                p.firstTokenNanos < 0 ? Double.NaN : (p.firstTokenNanos - arrival) / 1e6,
                p.maxBatch,
                p.batchSteps == 0 ? 0 : (double) p.batchSum / p.batchSteps,
                s.preemptions(),
                p.request.params().logprobs() ? Arrays.copyOf(p.logprobs, p.numLogprobs) : null));
    }

    private EngineMetrics buildSnapshot() {
        double busySeconds = stepNanosTotal / 1e9;
        return new EngineMetrics(
                scheduler.numRunning(),
                scheduler.numWaiting() + incoming.size(),
                steps,
                promptTokensComputed,
                generatedTokens,
                busySeconds == 0 ? 0 : promptTokensComputed / busySeconds,
                busySeconds == 0 ? 0 : generatedTokens / busySeconds,
                lastStepNanos / 1e6,
                steps == 0 ? 0 : stepNanosTotal / 1e6 / steps,
                stepNanosTotal / 1e9,
                runner.forwardNanos() / 1e9,
                batchHistogram.clone(),
                kv.numUsedBlocks(),
                kv.numFreeBlocks(),
                kv.queriedTokens(),
                kv.hitTokens(),
                kv.queriedBlocks(),
                kv.hitBlocks(),
                scheduler.preemptions(),
                finished,
                cancelled,
                deadlineExceeded,
                draftTokens,
                acceptedDraftTokens);
    }
}
