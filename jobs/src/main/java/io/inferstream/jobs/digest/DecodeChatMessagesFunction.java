package io.inferstream.jobs.digest;

import io.inferstream.jobs.decode.DecodeRequestsFunction;
import io.inferstream.jobs.source.RawRecord;
import io.inferstream.schema.ChatMessage;
import io.inferstream.schema.DeadLetter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/** The digest job's decode step: messages to the main output, bad records to the dead-letter side output. */
public final class DecodeChatMessagesFunction extends ProcessFunction<RawRecord, ChatMessage> {
    private static final long serialVersionUID = 1L;

    private final ChatMessageDecoder decoder;

    public DecodeChatMessagesFunction(ChatMessageDecoder decoder) {
        this.decoder = decoder;
    }

    @Override
    public void processElement(RawRecord raw, Context ctx, Collector<ChatMessage> out) {
        ChatMessage message = decoder.decode(raw.payload, raw.origin(),
                letter -> ctx.output(DecodeRequestsFunction.DEAD_LETTERS, letter));
        if (message != null) {
            out.collect(message);
        }
    }

    /** The side output this step writes dead letters to (the same tag the request jobs use). */
    public static org.apache.flink.util.OutputTag<DeadLetter> deadLetters() {
        return DecodeRequestsFunction.DEAD_LETTERS;
    }
}
