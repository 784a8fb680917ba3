package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.InferenceOptions;
import io.inferstream.jobs.digest.DigestWindowOptions;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.testing.SharedModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code replay --digest} on sample-data/chat-stream.jsonl with stories260K: with the default 10-minute gap
 * the table lists the sessions that sample-data/README.md describes — two per conversation except ticket-1044,
 * split at the gaps it names, with every message of the conversation in them.
 */
class DigestReplayTest {
    @Test
    @Timeout(120)
    void sampleChatStreamGivesTheSessionsTheReadmeDescribes(@TempDir Path out) throws Exception {
        ReplayCommand command = new ReplayCommand();
        new CommandLine(command).parseArgs("--digest", "--max-new-tokens", "8", "--context-tokens", "512");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Path model = SharedModels.require("stories260K/stories260K.gguf");
        int exit = new DigestReplay(null, model.toString(), out, command.digestWindows, command.digestSummary, command.inference,
                new HubCliOptions().toOptions(Map.of()), print).run();
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, text);
        assertEquals(Duration.ofMinutes(10), command.digestWindows.gap, "the default gap the README assumes");

        // rows: conversation, "start–end", revision, part, messages, chunks, summary
        List<String[]> rows = text.lines().dropWhile(l -> !l.startsWith("conversation ")).skip(1)
                .takeWhile(l -> !l.isBlank()).map(l -> l.trim().split("\\s+", 7)).collect(Collectors.toList());
        Map<String, List<String>> windows = new TreeMap<>();
        Map<String, Integer> messages = new TreeMap<>();
        for (String[] r : rows) {
            windows.computeIfAbsent(r[0], k -> new java.util.ArrayList<>()).add(r[1]);
            messages.merge(r[0], Integer.parseInt(r[4]), Integer::sum);
            assertEquals("0", r[2], "no revisions with a 10-minute gap: " + String.join(" ", r));
        }
        assertEquals(Map.of("ticket-1042", 20, "ticket-1043", 20, "ticket-1044", 22, "team-infra-oncall", 50,
                "team-release-planning", 38), messages, text);
        // README: last message before the gap → first after; a session ends one gap after its last message
        assertSplit(windows, "ticket-1042", "09:23:40", "09:31:05");
        assertSplit(windows, "ticket-1043", "09:29:30", "09:42:15");
        assertSplit(windows, "team-infra-oncall", "09:38:50", "09:44:00");
        assertSplit(windows, "team-release-planning", "09:39:40", "09:42:30");
        assertEquals(1, windows.get("ticket-1044").size(), windows.toString());
        assertTrue(text.contains("no dead letters"), text);
    }

    private static void assertSplit(Map<String, List<String>> windows, String conversation, String firstEnd, String secondStart) {
        List<String> w = windows.get(conversation);
        assertEquals(2, w.size(), conversation + ": " + w);
        assertTrue(w.get(0).endsWith("–" + firstEnd), conversation + " first session " + w.get(0));
        assertTrue(w.get(1).startsWith(secondStart + "–"), conversation + " second session " + w.get(1));
    }

    @Test
    @Timeout(30)
    void aBlankInstructionIsSaidInOneLineBeforeABrokerStarts(@TempDir Path out) throws Exception {
        ReplayCommand command = new ReplayCommand();
        new CommandLine(command).parseArgs("--digest", "--instruction", " ");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        PrintStream original = System.err;
        int exit;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            exit = new DigestReplay(null, SharedModels.require("stories260K/stories260K.gguf").toString(), out,
                    command.digestWindows, command.digestSummary, command.inference, new HubCliOptions().toOptions(Map.of()),
                    new PrintStream(stdout, true, StandardCharsets.UTF_8)).run();
        } finally {
            System.setErr(original);
        }
        assertEquals(2, exit);
        assertEquals("replay --digest: --instruction must not be blank", err.toString(StandardCharsets.UTF_8).strip());
        assertEquals("", stdout.toString(StandardCharsets.UTF_8), "nothing started");
    }
}
