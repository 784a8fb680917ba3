package io.inferstream.jobs.infer;

import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;

/**
 * The step of a job that turns valid requests into results. A stage, not a function, so that a job
 * can wire Flink async I/O ({@link AsyncInferenceStage}), a plain map, or the inference followed by
 * more operators without changing the pipeline around it.
 */
@FunctionalInterface
public interface InferenceStage {
    DataStream<InferenceResult> apply(DataStream<InferenceRequest> requests);

    /** A stage that maps each request with {@code function}. */
    static InferenceStage of(MapFunction<InferenceRequest, InferenceResult> function, String name) {
        return requests -> requests.map(function).name(name).uid(name);
    }
}
