/**
 * Benchmarks of the engine: a synthetic workload fed one request at a time, in static batches and with
 * continuous batching ({@link io.inferstream.runtime.bench.SyntheticWorkload}), reported as a table, CSV
 * and PNG ({@link io.inferstream.runtime.bench.BenchReport}), on real model files or on random-weights
 * GGUF files of real model shapes ({@link io.inferstream.runtime.bench.RandomModelWriter}).
 */
package io.inferstream.runtime.bench;
