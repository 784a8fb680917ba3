/**
 * Choosing tokens: {@link io.inferstream.runtime.sampling.SamplingParams} (per request),
 * {@link io.inferstream.runtime.sampling.Sampler} (one per sequence, its own seeded RNG: greedy,
 * repetition penalty, top-k, top-p, min-p, temperature, log-probs) and
 * {@link io.inferstream.runtime.sampling.StopChecker} (end tokens and stop strings, with held-back text
 * so a stop string is never streamed).
 */
package io.inferstream.runtime.sampling;
