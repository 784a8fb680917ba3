package io.inferstream.runtime.cli;

import io.inferstream.runtime.speculative.Speculation;
import picocli.CommandLine.Option;

/** Prompt-lookup speculative decoding's flags (a picocli mixin): {@code --speculative-tokens N} turns it on. */
public final class SpeculationCliOptions {

    @Option(names = "--speculative-tokens", defaultValue = "0", paramLabel = "N",
            description = "speculative decoding by prompt lookup: run up to N tokens guessed from earlier in the text after"
                    + " each decoded token, keeping those the sampler picks (the same output, fewer steps when the output"
                    + " repeats its input: summaries, extractions); 0 = off (default: ${DEFAULT-VALUE})")
    int tokens = 0;

    @Option(names = "--prompt-lookup-min", defaultValue = "" + Speculation.DEFAULT_MIN_NGRAM, paramLabel = "N",
            description = "with --speculative-tokens: the shortest run of last tokens to look up (default: ${DEFAULT-VALUE})")
    int minNgram = Speculation.DEFAULT_MIN_NGRAM;

    @Option(names = "--prompt-lookup-max", defaultValue = "" + Speculation.DEFAULT_MAX_NGRAM, paramLabel = "N",
            description = "with --speculative-tokens: the longest run of last tokens to look up (default: ${DEFAULT-VALUE})")
    int maxNgram = Speculation.DEFAULT_MAX_NGRAM;

    @Option(names = "--speculative-max-sequences", defaultValue = "" + Speculation.DEFAULT_MAX_SEQUENCES, paramLabel = "N",
            description = "with --speculative-tokens: guess only while at most N sequences decode together; a larger batch"
                    + " has no compute to spare for guesses that fail (default: ${DEFAULT-VALUE})")
    int maxSequences = Speculation.DEFAULT_MAX_SEQUENCES;

    /** The settings; throws IllegalArgumentException naming the flag for a value out of range. */
    public Speculation speculation() {
        return new Speculation(tokens, minNgram, maxNgram, maxSequences);
    }
}
