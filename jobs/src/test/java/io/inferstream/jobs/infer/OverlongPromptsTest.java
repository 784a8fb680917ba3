package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import io.inferstream.runtime.testing.SharedModels;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The TRUNCATE policy on the real stories260K model: an over-long text is cut until it runs; one that fits is untouched. */
class OverlongPromptsTest {
    private static final String LONG = "The little dog ran to the park and played with a red ball. ".repeat(400);

    @Test
    void overlongTextsAreCutToTheContextAndThenRunWhileShortOnesAreUntouched() throws Exception {
        String path = SharedModels.require("stories260K/stories260K.gguf").toAbsolutePath().toString();
        EngineSpec spec = EngineSpec.of(path, "stories260K");
        try (SharedEngines.Lease lease = SharedEngines.acquire(spec)) {
            LoadedModel m = lease.model();
            TaskOptions options = new TaskOptions(8, 0, 512, OverlongPromptPolicy.TRUNCATE); // 512: what stories260K was trained on
            TaskRunner runner = new TaskRunner(m.engine(), m.modelConfig(), m.tokenizer(), m.chatTemplate(),
                    options.taskDefaults(), "stories260K");
            int context = runner.contextTokens();

            TaskRequest generate = TaskRequest.builder("g", Task.GENERATE, LONG).build();
            TaskResult asIs = runner.run(generate).get();
            assertEquals(FinishReason.ERROR, asIs.finishReason(), "without truncation the prompt does not fit");
            TaskResult cut = runner.run(OverlongPrompts.truncate(generate, runner, m.tokenizer())).get();
            assertNull(cut.error());
            assertTrue(cut.promptTokens() + cut.completionTokens() <= context,
                    cut.promptTokens() + " + " + cut.completionTokens() + " tokens fit " + context);
            assertTrue(cut.promptTokens() > context - 16 - 8, "cut near the limit, not far below: " + cut.promptTokens());

            TaskRequest classify = TaskRequest.builder("c", Task.CLASSIFY, LONG).labels(List.of("happy", "sad")).build();
            assertEquals(FinishReason.ERROR, runner.run(classify).get().finishReason());
            TaskResult label = runner.run(OverlongPrompts.truncate(classify, runner, m.tokenizer())).get();
            assertEquals(FinishReason.STOP, label.finishReason(), String.valueOf(label.error()));
            assertTrue(List.of("happy", "sad").contains(label.label()));

            TaskRequest shortOne = TaskRequest.builder("s", Task.GENERATE, "Once upon a time").build();
            assertSame(shortOne, OverlongPrompts.truncate(shortOne, runner, m.tokenizer()));
        }
        assertEquals(0, SharedEngines.references(spec), "closing the last lease closes the engine");
    }
}
