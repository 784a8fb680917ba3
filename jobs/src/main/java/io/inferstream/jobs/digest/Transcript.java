package io.inferstream.jobs.digest;

import io.inferstream.schema.ChatMessage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** A window's messages as the text the model summarizes: one {@code author: text} line per message. */
public final class Transcript {
    /** Event time, then id: messages written in the same millisecond keep a stable order. */
    public static final Comparator<ChatMessage> EVENT_ORDER = Comparator
            .comparing((ChatMessage m) -> m.getEventTime())
            .thenComparing(ChatMessage::getId);

    private Transcript() {
    }

    /** The messages sorted into event-time order (a new list). */
    public static List<ChatMessage> inEventOrder(Iterable<ChatMessage> messages) {
        List<ChatMessage> sorted = new ArrayList<>();
        messages.forEach(sorted::add);
        sorted.sort(EVENT_ORDER);
        return sorted;
    }

    /** {@code author: text} lines, in the given order; line breaks inside a message become spaces. */
    public static String of(List<ChatMessage> messages) {
        StringBuilder b = new StringBuilder();
        for (ChatMessage m : messages) {
            if (b.length() > 0) {
                b.append('\n');
            }
            b.append(m.getAuthor()).append(": ").append(m.getText().replaceAll("\\s*[\\r\\n]+\\s*", " ").strip());
        }
        return b.toString();
    }

    /** {@code sorted} cut into consecutive parts of at most {@code maxMessages} (one part when it fits). */
    public static List<List<ChatMessage>> parts(List<ChatMessage> sorted, int maxMessages) {
        List<List<ChatMessage>> parts = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i += maxMessages) {
            parts.add(List.copyOf(sorted.subList(i, Math.min(sorted.size(), i + maxMessages))));
        }
        return parts;
    }
}
