/**
 * Speculative decoding by prompt lookup: a step runs a sequence's next token together with a few guessed tokens after
 * it, and keeps the guesses the sampler would have chosen anyway.
 *
 * <p>{@link io.inferstream.runtime.speculative.PromptLookupProposer} guesses: it finds the sequence's last few tokens
 * earlier in the sequence (the prompt or the text generated so far) and proposes the tokens that followed them there,
 * which is what summaries, translations with names and numbers, and extractions copy. The engine and the
 * {@link io.inferstream.runtime.generate.Generator} verify: each position's logits are sampled in order with the
 * request's own sampler, exactly as they would be one step at a time, and a guess is kept while it equals the sampled
 * token. So the output is the plain decoding's output for every sampler (on the CPU bit for bit, because a token's
 * logits do not depend on the batch it runs in); only the number of forward steps changes.
 * {@link io.inferstream.runtime.speculative.Speculation} holds the settings.
 */
package io.inferstream.runtime.speculative;
