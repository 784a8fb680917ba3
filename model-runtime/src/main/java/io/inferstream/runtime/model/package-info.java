/**
 * The Llama-family transformer on the CPU.
 *
 * <p>{@link io.inferstream.runtime.model.LlamaModel#load} reads a GGUF ({@code llama}: Llama 2/3, TinyLlama,
 * SmolLM, Mistral; {@code qwen2}: attention biases, NeoX RoPE) through {@code GgufLlamaLoader};
 * {@link io.inferstream.runtime.model.Llama2cLoader} reads llama2.c checkpoints into the same model.
 * {@link io.inferstream.runtime.model.LlamaModel#forward} runs one engine step: every token of a
 * {@link io.inferstream.runtime.model.TokenBatch} through each weight matrix at once, then RoPE
 * ({@code Rope}), the KV write and causal attention ({@code PagedAttention}) per token, at its own
 * position, through its own sequence's block table.
 *
 * <p>Verified against llama2.c's output for stories260K and against a float64 reference forward pass
 * (tests: {@code StoriesGreedyTest}, {@code LlamaModelReferenceTest}, {@code LlamaModelBatchTest}).
 */
package io.inferstream.runtime.model;
