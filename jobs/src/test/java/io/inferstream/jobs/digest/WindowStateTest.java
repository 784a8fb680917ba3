package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.schema.ChatMessage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.operators.StreamOperatorFactory;
import org.apache.flink.streaming.api.transformations.OneInputTransformation;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * The digest job's window operator (the pipeline's own, from {@link DigestPipeline#windows}) in Flink's operator
 * test harness: what keyed state a conversation leaves behind once its windows can no longer be revised.
 */
class WindowStateTest {
    private static final long GAP = 60;
    private static final long LATENESS = 100;

    @Test
    void aConversationThatFallsSilentLeavesNoStateOnceItsLatenessRunsOut() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<String, ChatMessage, DigestWindow> harness = harness()) {
            harness.processElement(message("a1", "a", 0));
            harness.processElement(message("a2", "a", 10));
            harness.processElement(message("b1", "b", 50));
            harness.processWatermark(80); // a's session [0, 70) fires
            harness.processElement(message("a3", "a", 20)); // late, within the lateness: [0, 80), revision 1
            harness.processWatermark(90);
            assertEquals(List.of("a 0 [a1, a2]", "a 1 [a1, a2, a3]"),
                    harness.extractOutputValues().stream().map(WindowStateTest::describe).toList());
            int open = harness.numKeyedStateEntries();
            assertTrue(open > 0, "both conversations have windows");

            // b's session [50, 110) fires at 109; a's window is purged at 79 + 100, b's at 109 + 100
            harness.processWatermark(300);
            assertEquals(List.of("b 0 [b1]"),
                    harness.extractOutputValues().subList(2, 3).stream().map(WindowStateTest::describe).toList());
            assertEquals(0, harness.numKeyedStateEntries(), "no state is left, not even the revision ledgers");
        }
    }

    @Test
    void aWindowStillWithinItsLatenessKeepsItsRevisionAfterAnotherWindowIsPurged() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<String, ChatMessage, DigestWindow> harness = harness()) {
            harness.processElement(message("a1", "a", 0));
            harness.processWatermark(70); // [0, 60) fires, purged at 159
            harness.processElement(message("a2", "a", 150));
            harness.processWatermark(215); // [150, 210) fires, purged at 309; [0, 60) purged
            harness.processElement(message("a3", "a", 160)); // late, revises [150, 210) -> [150, 220)
            harness.processWatermark(230);
            assertEquals(List.of("a 0 [a1]", "a 0 [a2]", "a 1 [a2, a3]"),
                    harness.extractOutputValues().stream().map(WindowStateTest::describe).toList());
            harness.processWatermark(400);
            assertEquals(0, harness.numKeyedStateEntries());
        }
    }

    @SuppressWarnings("unchecked")
    private static KeyedOneInputStreamOperatorTestHarness<String, ChatMessage, DigestWindow> harness() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        DigestWindowing windowing = new DigestWindowing(WindowKind.SESSION, Duration.ofMillis(GAP),
                Duration.ofMillis(LATENESS), Duration.ZERO, Duration.ZERO, 50);
        var windows = DigestPipeline.windows(env.fromData(chat("x", "x", 0)), windowing);
        StreamOperatorFactory<DigestWindow> operator =
                ((OneInputTransformation<ChatMessage, DigestWindow>) windows.getTransformation()).getOperatorFactory();
        var harness = new KeyedOneInputStreamOperatorTestHarness<>(operator,
                (org.apache.flink.api.java.functions.KeySelector<ChatMessage, String>) ChatMessage::getConversationId,
                Types.STRING);
        harness.open();
        return harness;
    }

    private static StreamRecord<ChatMessage> message(String id, String conversation, long t) {
        return new StreamRecord<>(chat(id, conversation, t), t);
    }

    private static ChatMessage chat(String id, String conversation, long t) {
        return ChatMessage.newBuilder().setId(id).setConversationId(conversation).setAuthor("ann")
                .setText("text " + id).setEventTime(Instant.ofEpochMilli(t)).setMetadata(Map.of()).build();
    }

    private static String describe(DigestWindow w) {
        return w.conversationId + " " + w.revision + " " + List.of(w.messageIds);
    }
}
