package io.inferstream.jobs.decode;

import io.inferstream.jobs.source.RawRecord;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * The decode step of a job: valid requests go to the main output, everything else to the
 * {@link #DEAD_LETTERS} side output. Never throws on bad input.
 */
public final class DecodeRequestsFunction extends ProcessFunction<RawRecord, InferenceRequest> {
    private static final long serialVersionUID = 1L;

    /** Side output of records that could not become valid requests. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") { };

    private final RequestDecoder decoder;

    public DecodeRequestsFunction(RequestDecoder decoder) {
        this.decoder = decoder;
    }

    public DecodeRequestsFunction() {
        this(new RequestDecoder());
    }

    @Override
    public void processElement(RawRecord raw, Context ctx, Collector<InferenceRequest> out) {
        DecodeOutcome outcome = decoder.decode(raw.payload, raw.origin());
        if (outcome instanceof DecodeOutcome.Accepted) {
            out.collect(((DecodeOutcome.Accepted) outcome).request());
        } else {
            ctx.output(DEAD_LETTERS, ((DecodeOutcome.Rejected) outcome).deadLetter());
        }
    }
}
