package io.inferstream.runtime.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineMetrics;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.sampling.SamplingParams;

/**
 * N sequences submitted together, each with its own prompt, generating exactly {@code outputLength} greedy tokens:
 * what llama.cpp's {@code llama-batched-bench} reports as PP and TG for {@code -npl N}. Every token's arrival is timed,
 * so the rates are exact whatever the scheduler interleaves:
 * <ul>
 *   <li>prompt tok/s = N × prompt length / (submission → the last sequence's first token);</li>
 *   <li>decode tok/s = tokens generated after that moment / (that moment → the last token), when all N decode.</li>
 * </ul>
 * With N = 1 these are one sequence's prefill and decode speeds.
 *
 * @param promptTokensPerSecond all prompts, aggregate
 * @param decodeTokensPerSecond all sequences decoding together, aggregate
 * @param draftTokens           tokens guessed by speculative decoding during the run (0 when it is off)
 * @param acceptedDraftTokens   of those, kept
 */
public record ParallelRun(double promptTokensPerSecond, double decodeTokensPerSecond, long draftTokens, long acceptedDraftTokens) {

    /** Fraction of guessed tokens kept (0 when none were guessed). */
    public double draftAcceptanceRate() {
        return draftTokens == 0 ? 0 : (double) acceptedDraftTokens / draftTokens;
    }

    /** Runs {@code prompts} through {@code engine} at once; throws when a sequence ends before {@code outputLength} tokens. */
    public static ParallelRun measure(Engine engine, List<int[]> prompts, int outputLength, String idPrefix) {
        int n = prompts.size();
        long[][] arrivals = new long[n][outputLength]; // nanoTime of each generated token
        int[] counts = new int[n];
        EngineMetrics before = engine.metrics();
        long start = System.nanoTime();
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int seq = i;
            futures.add(engine.submit(Request.builder(prompts.get(i)).id(idPrefix + "-" + i)
                    .params(SamplingParams.greedy(outputLength))
                    .listener((id, token, text) -> arrivals[seq][counts[seq]++] = System.nanoTime()).build()));
        }
        for (CompletableFuture<Completion> f : futures) {
            Completion c = f.join();
            if (c.finishReason() != FinishReason.LENGTH || c.generatedTokens() != outputLength) {
                throw new IllegalStateException("sequence " + c.requestId() + " finished with " + c.finishReason() + " after "
                        + c.generatedTokens() + " tokens " + c.message());
            }
        }
        long allPrompts = 0;
        long end = 0;
        for (int i = 0; i < n; i++) {
            allPrompts = Math.max(allPrompts, arrivals[i][0]);
            end = Math.max(end, arrivals[i][outputLength - 1]);
        }
        long decoded = 0;
        for (int i = 0; i < n; i++) {
            for (int t = 1; t < outputLength; t++) {
                if (arrivals[i][t] > allPrompts) {
                    decoded++;
                }
            }
        }
        long promptTokens = 0;
        for (int[] p : prompts) {
            promptTokens += p.length;
        }
        EngineMetrics after = engine.metrics(); // published before the futures completed: it counts this run
        return new ParallelRun(promptTokens / ((allPrompts - start) / 1e9), decoded / ((end - allPrompts) / 1e9),
                after.draftTokens() - before.draftTokens(), after.acceptedDraftTokens() - before.acceptedDraftTokens());
    }
}
