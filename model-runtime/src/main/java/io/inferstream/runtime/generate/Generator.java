package io.inferstream.runtime.generate;

import java.util.Arrays;
import java.util.function.Consumer;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.sampling.Sampler;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.sampling.StopChecker;
import io.inferstream.runtime.speculative.DraftBudget;
import io.inferstream.runtime.speculative.PromptLookupProposer;
import io.inferstream.runtime.speculative.Speculation;
import io.inferstream.runtime.tokenizer.StreamingDecoder;
import io.inferstream.runtime.tokenizer.Tokenizer;

/**
 * Generates the continuation of one prompt, outside the engine: for the CLI and for tests. The prompt
 * is prefilled as one batch, then one token per step (with {@link Speculation}, the token and the guesses after
 * it, keeping those the sampler picks), with the sequence's keys and values in a private KV store whose blocks
 * 0..k-1 are its block table.
 */
public final class Generator {

    /** Positions per KV block; the engine's block size. */
    public static final int BLOCK_SIZE = 16;

    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final KvStore.Precision precision;
    private final Speculation speculation;

    public Generator(LanguageModel model, Tokenizer tokenizer) {
        this(model, tokenizer, KvStore.Precision.F32);
    }

    public Generator(LanguageModel model, Tokenizer tokenizer, KvStore.Precision precision) {
        this(model, tokenizer, precision, Speculation.OFF);
    }

    /** @param speculation prompt-lookup speculative decoding (beam search does not use it) */
    public Generator(LanguageModel model, Tokenizer tokenizer, KvStore.Precision precision, Speculation speculation) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.precision = precision;
        this.speculation = speculation;
    }

    /**
     * Generates with the KV cache.
     *
     * @param onText receives the text as it becomes final (complete UTF-8, never part of a stop string); may be null
     */
    public GenerationResult generate(int[] prompt, SamplingParams params, Consumer<String> onText) {
        if (params.numBeams() > 1) {
            GenerationResult r = new BeamSearch(model, tokenizer, precision).generate(prompt, params);
            if (onText != null && !r.text().isEmpty()) {
                onText.accept(r.text());
            }
            return r;
        }
        return run(prompt, params, onText, true);
    }

    /**
     * Generates by recomputing the whole sequence at every step, without reusing cached keys and
     * values: only to check that the cache changes nothing.
     */
    public GenerationResult generateWithoutCache(int[] prompt, SamplingParams params) {
        return run(prompt, params, null, false);
    }

    private GenerationResult run(int[] prompt, SamplingParams params, Consumer<String> onText, boolean useCache) {
        int contextLength = model.config().contextLength();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens (encode it with BOS, or give some text)");
        }
        if (prompt.length >= contextLength) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens does not fit the model's context of "
                    + contextLength + " positions");
        }
        int maxNew = Math.min(params.maxNewTokens(), contextLength - prompt.length);
        int vocab = model.config().vocabSize();
        int capacity = prompt.length + maxNew;
        int numBlocks = Math.max(1, (capacity + BLOCK_SIZE - 1) / BLOCK_SIZE);
        KvStore kv = model.newKvStore(numBlocks, BLOCK_SIZE, precision);
        int[][] blockTable = {identity(numBlocks)};

        int[] history = Arrays.copyOf(prompt, capacity);
        int length = prompt.length;
        int[] out = new int[maxNew];
        float[] logprobs = new float[maxNew];
        int generated = 0;
        Sampler sampler = new Sampler(params);
        StopChecker stop = new StopChecker(params, tokenizer);
        StreamingDecoder decoder = tokenizer == null ? null : tokenizer.streamingDecoder();
        StringBuilder text = new StringBuilder();
        FinishReason finish = FinishReason.LENGTH;

        long start = System.nanoTime();
        float[] logits = model.forward(prefix(history, length, blockTable), kv); // [rows, vocab]
        long prefillNanos = System.nanoTime() - start;
        long decodeStart = System.nanoTime();
        int row = 0;                               // the logits row that gives the next token
        int[] drafts = PromptLookupProposer.NONE;  // the guesses run after the last forward's first token
        int drafted = 0;
        int accepted = 0;
        int keptOfLast = 0;                        // of the last forward's guesses
        DraftBudget budget = speculation.newBudget();
        while (generated < maxNew) {
            int token = sampler.sample(logits, row * vocab, vocab, history, length);
            history[length++] = token;
            logprobs[generated] = sampler.lastLogprob();
            out[generated++] = token;
            if (stop.isStopToken(token)) {
                finish = FinishReason.STOP;
                break;
            }
            if (decoder != null) {
                emit(stop.accept(decoder.accept(token)), text, onText);
                if (stop.stopped()) {
                    finish = FinishReason.STOP;
                    break;
                }
            }
            if (generated == maxNew) {
                break;
            }
            if (row < drafts.length && token == drafts[row]) {
                // The sampler chose the guess that ran at this token's position: its row gives the next token.
                accepted++;
                keptOfLast++;
                row++;
                continue;
            }
            budget.record(drafts.length, keptOfLast);
            keptOfLast = 0;
            // A guess at position length + i yields the token at length + i + 1, within maxNew.
            drafts = useCache ? speculation.propose(history, length, maxNew - generated - 1, 1, budget) : PromptLookupProposer.NONE;
            drafted += drafts.length;
            row = 0;
            logits = model.forward(useCache ? step(token, drafts, length - 1, blockTable) : prefix(history, length, blockTable), kv);
        }
        long decodeNanos = System.nanoTime() - decodeStart;
        if (decoder != null && !stop.stopped()) {
            emit(stop.accept(decoder.flush()), text, onText);
            emit(stop.finish(), text, onText);
        }
        double prefillRate = prompt.length / Math.max(1e-9, prefillNanos / 1e9);
        double decodeRate = generated > 1 ? (generated - 1) / Math.max(1e-9, decodeNanos / 1e9) : 0;
        return new GenerationResult(Arrays.copyOf(out, generated), text.toString(), finish, prompt.length,
                Arrays.copyOf(logprobs, generated), prefillRate, decodeRate, drafted, accepted);
    }

    private static void emit(String piece, StringBuilder text, Consumer<String> onText) {
        if (!piece.isEmpty()) {
            text.append(piece);
            if (onText != null) {
                onText.accept(piece);
            }
        }
    }

    /** {@code token} at {@code position}, then the guesses after it; logits of each. */
    static TokenBatch step(int token, int[] drafts, int position, int[][] blockTable) {
        int n = 1 + drafts.length;
        int[] tokens = new int[n];
        tokens[0] = token;
        System.arraycopy(drafts, 0, tokens, 1, drafts.length);
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = position + i;
        }
        return new TokenBatch(tokens, positions, new int[n], blockTable, identity(n));
    }

    /** The first {@code length} tokens of one sequence at positions 0.., logits of the last. */
    static TokenBatch prefix(int[] tokens, int length, int[][] blockTable) {
        int[] positions = identity(length);
        return new TokenBatch(Arrays.copyOf(tokens, length), positions, new int[length], blockTable,
                new int[] {length - 1});
    }

    static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }
}
