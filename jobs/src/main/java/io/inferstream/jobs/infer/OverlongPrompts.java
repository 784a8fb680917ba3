package io.inferstream.jobs.infer;

import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskRunner;
import io.inferstream.runtime.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * {@link OverlongPromptPolicy#TRUNCATE}: cuts the end off a CLASSIFY or GENERATE text until its prompt, the
 * output (or the longest label) and a small margin fit the runner's context. SUMMARIZE and TRANSLATE are left
 * alone: the task layer splits a long input into chunks.
 */
final class OverlongPrompts {
    /** Tokens kept free for re-tokenization differences at the cut. */
    private static final int MARGIN = 4;

    private OverlongPrompts() {
    }

    static TaskRequest truncate(TaskRequest r, TaskRunner runner, Tokenizer tokenizer) {
        if (r.task() != Task.CLASSIFY && r.task() != Task.GENERATE) {
            return r;
        }
        int reserve = MARGIN;
        if (r.task() == Task.GENERATE) {
            reserve += r.maxNewTokens() != null ? r.maxNewTokens() : runner.defaults().samplingFor(Task.GENERATE).maxNewTokens();
        } else {
            for (String label : r.labels()) {
                reserve = Math.max(reserve, MARGIN + tokenizer.encode(" " + label, false, false).length + 1);
            }
        }
        int overhead = runner.prompts().encode(runner.prompts().build(r, "")).length;
        int budget = runner.contextTokens() - reserve - overhead; // tokens of text that fit
        int[] text = tokenizer.encode(r.text(), false, false);
        if (text.length <= budget || budget < 1) {
            return r; // fits, or nothing fits: the runner says why
        }
        String cut = tokenizer.decode(Arrays.copyOf(text, budget));
        return new TaskRequest(r.id(), r.task(), cut, r.labels(), r.sourceLanguage(), r.targetLanguage(), r.instruction(),
                r.style(), r.examples(), r.multiLabel(), r.maxNewTokens(), r.temperature(), r.topK(), r.topP(), r.minP(),
                r.repetitionPenalty(), r.seed(), r.numBeams(), r.metadata());
    }
}
