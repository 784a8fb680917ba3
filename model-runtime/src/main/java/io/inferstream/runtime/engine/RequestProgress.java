package io.inferstream.runtime.engine;

import io.inferstream.runtime.sampling.Sampler;
import io.inferstream.runtime.tokenizer.StreamingDecoder;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * What belongs to one request besides its tokens: its own seeded sampler, the text decoded so far, the
 * log-probabilities, the future to complete, timings and the batch sizes it ran in. Step thread only.
 */
final class RequestProgress {

    final Request request;                            // null for scoring
    final CompletableFuture<Completion> completion;   // generation
    final CompletableFuture<ContinuationScore> score; // scoring
    final int[] scoreTargets;                         // [continuation] for scoring
    final Sampler sampler;
    final StreamingDecoder decoder;                   // null without a tokenizer
    final StringBuilder text = new StringBuilder();
    float[] logprobs = new float[16];
    int numLogprobs;
    long firstScheduledNanos = -1;
    long firstTokenNanos = -1;
    int maxBatch;
    long batchSum;
    int batchSteps;
    volatile boolean cancelled;

    private RequestProgress(Request request, CompletableFuture<Completion> completion, CompletableFuture<ContinuationScore> score,
                            int[] scoreTargets, Sampler sampler, StreamingDecoder decoder) {
        this.request = request;
        this.completion = completion;
        this.score = score;
        this.scoreTargets = scoreTargets;
        this.sampler = sampler;
        this.decoder = decoder;
    }

    static RequestProgress generation(Request request, Sampler sampler, StreamingDecoder decoder) {
        return new RequestProgress(request, new CompletableFuture<>(), null, null, sampler, decoder);
    }

    static RequestProgress scoring(int[] continuation) {
        return new RequestProgress(null, null, new CompletableFuture<>(), continuation, null, null);
    }

    void addLogprob(float lp) {
        if (numLogprobs == logprobs.length) {
            logprobs = Arrays.copyOf(logprobs, logprobs.length * 2);
        }
        logprobs[numLogprobs++] = lp;
    }

    void ranInBatch(int size, long nowNanos) {
        if (firstScheduledNanos < 0) {
            firstScheduledNanos = nowNanos;
        }
        maxBatch = Math.max(maxBatch, size);
        batchSum += size;
        batchSteps++;
    }
}
