package io.inferstream.jobs.testing;

import io.inferstream.runtime.cuda.CudaTestDevice;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * Runs a job test class only where a CUDA device is usable: decided before any other extension starts (a Kafka
 * broker or a MiniCluster would be wasted on a skipped class). The decision is {@link CudaTestDevice}'s, so
 * {@code INFERSTREAM_REQUIRE_GPU=1} turns a missing device into a failure here too.
 */
public final class CudaDeviceCondition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        try {
            CudaTestDevice.require();
            return ConditionEvaluationResult.enabled("CUDA device present");
        } catch (TestAbortedException e) {
            return ConditionEvaluationResult.disabled(e.getMessage());
        }
    }
}
