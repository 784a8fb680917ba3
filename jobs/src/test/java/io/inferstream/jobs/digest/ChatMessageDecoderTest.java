package io.inferstream.jobs.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.decode.RecordOrigin;
import io.inferstream.jobs.wire.SingleObjectCodec;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatMessageDecoderTest {
    private final ChatMessageDecoder decoder = new ChatMessageDecoder();

    private static Path sampleStream() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve("sample-data").resolve("chat-stream.jsonl");
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new IllegalStateException("sample-data/chat-stream.jsonl not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void everyLineOfTheSampleChatStreamDecodesFromJsonAndFromAvro() throws Exception {
        List<String> lines = Files.readAllLines(sampleStream(), StandardCharsets.UTF_8);
        assertEquals(150, lines.size());
        List<DeadLetter> letters = new ArrayList<>();
        SingleObjectCodec<ChatMessage> avro = SingleObjectCodec.of(ChatMessage.class);
        for (String line : lines) {
            ChatMessage m = decoder.decode(line.getBytes(StandardCharsets.UTF_8), RecordOrigin.unknown(), letters::add);
            assertTrue(m != null && m.getId().startsWith("msg-") && !m.getText().isBlank(), line);
            assertEquals(m, decoder.decode(avro.encode(m), RecordOrigin.unknown(), letters::add));
        }
        assertTrue(letters.isEmpty(), "no dead letters: " + letters);
    }

    @Test
    void malformedOrIncompleteMessagesBecomeDeadLettersWithTheReason() {
        List<DeadLetter> letters = new ArrayList<>();
        RecordOrigin origin = RecordOrigin.kafka("messages", 0, 7);
        assertNull(decoder.decode("{\"id\": \"m1\"".getBytes(StandardCharsets.UTF_8), origin, letters::add));
        assertNull(decoder.decode(("{\"id\": \"m2\", \"conversation_id\": \" \", \"author\": \"a\", \"text\": \"t\","
                + " \"event_time\": 5, \"metadata\": {}}").getBytes(StandardCharsets.UTF_8), origin, letters::add));
        ChatMessage tooLong = ChatMessage.newBuilder().setId("m3").setConversationId("c").setAuthor("a")
                .setText("ü".repeat(6)).setEventTime(java.time.Instant.ofEpochMilli(5)).build();
        assertNull(new ChatMessageDecoder(11).decode(SingleObjectCodec.of(ChatMessage.class).encode(tooLong), origin, letters::add));
        assertEquals(3, letters.size());
        assertTrue(letters.get(2).getReason().contains("text is 12 bytes, more than max-text-bytes 11"), letters.get(2).getReason());
        assertEquals("messages", letters.get(0).getSourceTopic());
        assertEquals(7L, letters.get(0).getSourceOffset());
        assertNull(letters.get(0).getRequestId());
        assertEquals("m2", letters.get(1).getRequestId());
        assertTrue(letters.get(1).getReason().contains("conversation_id is blank"), letters.get(1).getReason());
    }
}
