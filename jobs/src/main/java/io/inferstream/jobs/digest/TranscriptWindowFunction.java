package io.inferstream.jobs.digest;

import io.inferstream.schema.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Turns a fired window of one conversation into transcripts to summarize: the messages in event-time order,
 * cut into parts of at most {@code maxMessages}, each with the window's revision (0 on the first firing,
 * +1 on each firing caused by late messages).
 *
 * <p>The revisions live in the conversation's global state, which outlives its windows. Flink calls {@link #clear}
 * when a window is purged (its lateness run out), and the ledger forgets it there: a conversation that falls
 * silent leaves no state behind once its last window is purged.
 */
public final class TranscriptWindowFunction extends ProcessWindowFunction<ChatMessage, DigestWindow, String, TimeWindow> {
    private static final long serialVersionUID = 1L;
    private static final ListStateDescriptor<FiredWindow> FIRED = new ListStateDescriptor<>("fired-windows", FiredWindow.class);

    private final int maxMessages;
    private final long lateness; // ms

    public TranscriptWindowFunction(int maxMessages, long lateness) {
        this.maxMessages = maxMessages;
        this.lateness = lateness;
    }

    @Override
    public void process(String conversation, Context context, Iterable<ChatMessage> messages, Collector<DigestWindow> out)
            throws Exception {
        ListState<FiredWindow> state = context.globalState().getListState(FIRED);
        List<FiredWindow> fired = new ArrayList<>();
        state.get().forEach(fired::add);
        TimeWindow window = context.window();
        int revision = Revisions.next(fired, window.getStart(), window.getEnd(), context.currentWatermark(), lateness);
        state.update(fired);

        List<List<ChatMessage>> parts = Transcript.parts(Transcript.inEventOrder(messages), maxMessages);
        for (int p = 0; p < parts.size(); p++) {
            DigestWindow d = new DigestWindow();
            d.conversationId = conversation;
            d.windowStart = window.getStart();
            d.windowEnd = window.getEnd();
            d.revision = revision;
            d.part = p;
            d.parts = parts.size();
            d.messageIds = parts.get(p).stream().map(ChatMessage::getId).toArray(String[]::new);
            d.transcript = Transcript.of(parts.get(p));
            out.collect(d);
        }
    }

    @Override
    public void clear(Context context) throws Exception {
        ListState<FiredWindow> state = context.globalState().getListState(FIRED);
        List<FiredWindow> fired = new ArrayList<>();
        state.get().forEach(fired::add);
        if (!Revisions.forgetPurged(fired, context.currentWatermark(), lateness)) {
            return;
        }
        if (fired.isEmpty()) {
            state.clear();
        } else {
            state.update(fired);
        }
    }
}
