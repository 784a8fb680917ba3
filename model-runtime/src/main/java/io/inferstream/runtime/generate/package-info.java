/**
 * Single-request generation outside the engine, for the CLI and tests:
 * {@link io.inferstream.runtime.generate.Generator} (prefill, then one token per step, streaming text;
 * also a no-cache mode that recomputes the whole sequence) and
 * {@link io.inferstream.runtime.generate.BeamSearch} (beams share KV blocks, copy-on-write).
 */
package io.inferstream.runtime.generate;
