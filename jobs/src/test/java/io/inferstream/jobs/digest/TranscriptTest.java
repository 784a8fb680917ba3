package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.inferstream.schema.ChatMessage;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TranscriptTest {
    private static ChatMessage m(String id, String author, long t, String text) {
        return ChatMessage.newBuilder().setId(id).setConversationId("c").setAuthor(author).setText(text)
                .setEventTime(Instant.ofEpochMilli(t)).setMetadata(Map.of()).build();
    }

    @Test
    void messagesAreOrderedByEventTimeThenIdAndWrittenAsAuthorColonTextLines() {
        List<ChatMessage> arrived = List.of(m("m3", "bob", 300, "Third."), m("m1", "ann", 100, "First\nline two."),
                m("m2b", "cy", 200, "Tie b."), m("m2a", "dee", 200, "Tie a."));
        List<ChatMessage> sorted = Transcript.inEventOrder(arrived);
        assertEquals(List.of("m1", "m2a", "m2b", "m3"), sorted.stream().map(ChatMessage::getId).collect(Collectors.toList()));
        assertEquals("ann: First line two.\ndee: Tie a.\ncy: Tie b.\nbob: Third.", Transcript.of(sorted));
    }

    @Test
    void aWindowOverTheMaximumIsCutIntoConsecutivePartsAndOneMessageIsOnePart() {
        List<ChatMessage> five = List.of(m("1", "a", 1, "x"), m("2", "a", 2, "x"), m("3", "a", 3, "x"),
                m("4", "a", 4, "x"), m("5", "a", 5, "x"));
        List<List<ChatMessage>> parts = Transcript.parts(five, 2);
        assertEquals(List.of(List.of("1", "2"), List.of("3", "4"), List.of("5")), parts.stream()
                .map(p -> p.stream().map(ChatMessage::getId).collect(Collectors.toList())).collect(Collectors.toList()));
        assertEquals(1, Transcript.parts(five.subList(0, 1), 2).size());
        assertEquals(1, Transcript.parts(five, 5).size());
    }
}
