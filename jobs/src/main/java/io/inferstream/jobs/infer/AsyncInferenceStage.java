package io.inferstream.jobs.infer;

import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.util.concurrent.TimeUnit;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;

/**
 * The inference step as Flink async I/O around {@link InferenceFunction}: at most {@code capacity}
 * requests in flight per subtask (more back-pressures the source), results in input order or as they
 * finish.
 */
public final class AsyncInferenceStage implements InferenceStage {
    private final InferenceFunction function;
    private final boolean ordered;
    private final int capacity;

    public AsyncInferenceStage(InferenceFunction function, boolean ordered, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("async capacity must be >= 1, got " + capacity);
        }
        this.function = function;
        this.ordered = ordered;
        this.capacity = capacity;
    }

    @Override
    public DataStream<InferenceResult> apply(DataStream<InferenceRequest> requests) {
        long timeout = function.timeoutMs();
        DataStream<InferenceResult> results = ordered
                ? AsyncDataStream.orderedWait(requests, function, timeout, TimeUnit.MILLISECONDS, capacity)
                : AsyncDataStream.unorderedWait(requests, function, timeout, TimeUnit.MILLISECONDS, capacity);
        return ((org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator<InferenceResult>) results)
                .name("inference").uid("inference");
    }
}
