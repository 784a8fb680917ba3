package io.inferstream.jobs.infer;

import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;

/**
 * The step of a job that turns valid requests into results. A stage, not a function, so that it
 * can be a plain map ({@link PlaceholderInference} today) or Flink async I/O (the inference
 * operator) without changing the job around it.
 */
@FunctionalInterface
public interface InferenceStage {
    DataStream<InferenceResult> apply(DataStream<InferenceRequest> requests);

    /** A stage that maps each request with {@code function}. */
    static InferenceStage of(MapFunction<InferenceRequest, InferenceResult> function, String name) {
        return requests -> requests.map(function).name(name).uid(name);
    }
}
