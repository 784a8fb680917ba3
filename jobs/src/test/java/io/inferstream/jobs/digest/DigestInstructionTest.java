package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.tasks.TaskDefaults;
import io.inferstream.runtime.tasks.TaskPrompts;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** What the digest job asks the model: the chat instruction by default, {@code --instruction} when given. */
class DigestInstructionTest {

    private static final Path MODEL = Path.of("/models/none.gguf"); // the pipeline is built, not run

    private static DigestWindow window() {
        DigestWindow w = new DigestWindow();
        w.conversationId = "ticket-1042";
        w.windowStart = 1_768_467_600_000L;
        w.windowEnd = 1_768_468_200_000L;
        w.messageIds = new String[] {"m1", "m2"};
        w.transcript = "alice: The export fails since Monday.\nbob: I will roll back the release tonight.";
        return w;
    }

    private static TaskRequest request(String... args) {
        DigestJob job = new DigestJob();
        new CommandLine(job).parseArgs(args);
        job.checkFlags();
        return job.pipeline(MODEL.toString(), "m").summarize().toTask(window());
    }

    @Test
    void aWindowIsSummarizedWithTheChatInstructionUnlessTheJobGivesAnother() {
        assertEquals(DigestSummaryOptions.CHAT_INSTRUCTION, request().instruction());
        assertEquals("List the decisions.", request("--instruction", "List the decisions.").instruction());
        TaskRequest r = request("--instruction", "  List the decisions. ");
        assertEquals("List the decisions.", r.instruction());
        assertEquals(window().transcript, r.text());
    }

    @Test
    void aBlankInstructionIsAUsageError() {
        DigestJob job = new DigestJob();
        CommandLine cli = new CommandLine(job);
        cli.parseArgs("--instruction", " ");
        assertEquals("--instruction must not be blank", assertThrows(CommandLine.ParameterException.class, job::checkFlags).getMessage());
        assertEquals(2, cli.execute("--instruction", " "));
    }

    @Test
    void theModelSeesTheInstructionThenTheTranscript() throws Exception {
        // stories260K has no chat template: the plain prompt of labelled fields.
        try (Checkpoint checkpoint = Checkpoint.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            Tokenizer tokenizer = checkpoint.tokenizer();
            TaskPrompts prompts = new TaskPrompts(tokenizer, checkpoint.chatTemplate(tokenizer), TaskDefaults.standard());
            TaskRequest r = request();
            String prompt = prompts.build(r, r.text()).text();
            assertEquals(DigestSummaryOptions.CHAT_INSTRUCTION + "\n\nText: " + window().transcript + "\nSummary:", prompt);
            assertTrue(prompt.contains("'author: message'"), prompt);
        }
    }
}
