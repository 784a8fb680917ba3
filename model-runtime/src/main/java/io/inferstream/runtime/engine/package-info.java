/**
 * Continuous batching: the engine core.
 *
 * <p>{@link io.inferstream.runtime.engine.Engine} runs a step loop on its own thread:
 * {@link io.inferstream.runtime.engine.Scheduler#schedule()} decides which tokens of which
 * {@link io.inferstream.runtime.engine.Sequence}s run (decode tokens first, then prefill chunks, within a
 * token budget and a cap on running sequences, preempting the newest sequence when KV blocks run out);
 * {@link io.inferstream.runtime.engine.ModelRunner} flattens that decision into one
 * {@link io.inferstream.runtime.model.TokenBatch} and runs one model forward; each generating sequence's
 * own seeded {@link io.inferstream.runtime.sampling.Sampler} picks its next token (a scoring sequence
 * instead records the log-probabilities of given tokens). With {@link io.inferstream.runtime.speculative.Speculation}
 * on, a decode chunk also runs guessed tokens, and the sampler's picks decide which are kept. Futures and streaming listeners are completed on
 * the step thread, after the step's {@link io.inferstream.runtime.engine.EngineMetrics} snapshot.
 * Defaults live in {@link io.inferstream.runtime.engine.EngineConfig}.
 */
package io.inferstream.runtime.engine;
