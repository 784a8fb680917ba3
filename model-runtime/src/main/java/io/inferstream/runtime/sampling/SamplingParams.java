package io.inferstream.runtime.sampling;

import java.util.List;

/**
 * How one request chooses its tokens. Immutable; every request carries its own.
 *
 * @param temperature       0 means greedy (argmax)
 * @param topK              keep the k most likely tokens; 0 = off
 * @param topP              nucleus: smallest set with cumulative probability ≥ p; 1 = off
 * @param minP              drop tokens below minP × p(max); 0 = off
 * @param repetitionPenalty CTRL-style penalty on tokens already in prompt or output; 1 = off
 * @param seed              seed of this request's own RNG (outputs never depend on batch neighbours)
 * @param maxNewTokens      generation stops with finish reason LENGTH after this many tokens
 * @param stopStrings       generation stops (reason STOP) when the text ends with one of these; it is cut off
 * @param stopTokens        extra token ids that end generation (the model's end-of-generation ids always do)
 * @param logprobs          record the log-probability of each chosen token
 * @param numBeams          beam search width; 1 = off
 * @param lengthPenalty     beam search: score = logprob / length^lengthPenalty
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repetitionPenalty,
        long seed,
        int maxNewTokens,
        List<String> stopStrings,
        List<Integer> stopTokens,
        boolean logprobs,
        int numBeams,
        float lengthPenalty) {

    /** Refuses a value outside its range (the same ranges as the request schema's), naming it and what it accepts. */
    public SamplingParams {
        if (!(temperature >= 0f && Float.isFinite(temperature))) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("top-p must be in (0, 1] (1 = off), got " + topP);
        }
        if (!(minP >= 0f && minP <= 1f)) {
            throw new IllegalArgumentException("min-p must be in [0, 1] (0 = off), got " + minP);
        }
        if (!(repetitionPenalty > 0f && Float.isFinite(repetitionPenalty))) {
            throw new IllegalArgumentException("repetition penalty must be a finite number > 0 (1 = off), got "
                    + repetitionPenalty);
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNewTokens);
        }
        if (numBeams < 1) {
            throw new IllegalArgumentException("the number of beams must be >= 1 (1 = off), got " + numBeams);
        }
        if (!Float.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("length penalty must be a finite number, got " + lengthPenalty);
        }
        stopStrings = List.copyOf(stopStrings);
        stopTokens = List.copyOf(stopTokens);
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(0f, 0, 1f, 0f, 1f, 0L, maxNewTokens, List.of(), List.of(), false, 1, 1f);
    }

    public boolean isGreedy() {
        return temperature <= 0f;
    }

    public SamplingParams withTemperature(float t) {
        return new SamplingParams(t, topK, topP, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withTopK(int k) {
        return new SamplingParams(temperature, k, topP, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withTopP(float p) {
        return new SamplingParams(temperature, topK, p, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withMinP(float p) {
        return new SamplingParams(temperature, topK, topP, p, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withRepetitionPenalty(float r) {
        return new SamplingParams(temperature, topK, topP, minP, r, seed, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withSeed(long s) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, s, maxNewTokens, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withMaxNewTokens(int n) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed, n, stopStrings, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withStopStrings(List<String> stops) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed, maxNewTokens, stops, stopTokens, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withStopTokens(List<Integer> stops) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stops, logprobs, numBeams, lengthPenalty);
    }

    public SamplingParams withLogprobs(boolean on) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, on, numBeams, lengthPenalty);
    }

    public SamplingParams withBeams(int beams, float penalty) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed, maxNewTokens, stopStrings, stopTokens, logprobs, beams, penalty);
    }
}
