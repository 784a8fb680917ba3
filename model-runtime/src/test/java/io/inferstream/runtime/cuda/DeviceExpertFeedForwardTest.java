package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.model.Experts;

/** Which steps run a mixture's experts on tensor cores (no device: the choice is the host's). */
class DeviceExpertFeedForwardTest {

    @Test
    void tensorCoresFromSixteenSlotsPerExpertOnAverageUnlessForced() {
        DeviceExpertFeedForward mixtral = new DeviceExpertFeedForward(new Experts(8, 2, 14336, true, 1f, 0), 4096);
        assertFalse(mixtral.tensorCores(1), "one decode token");
        assertFalse(mixtral.tensorCores(63), "126 slots over 8 experts: under 16 each");
        assertTrue(mixtral.tensorCores(64), "128 slots over 8 experts: 16 each");
        assertTrue(mixtral.tensorCores(512), "a prefill chunk");
        DeviceExpertFeedForward qwen3 = new DeviceExpertFeedForward(new Experts(128, 8, 768, true, 1f, 0), 2048);
        assertFalse(qwen3.tensorCores(64), "64 sequences decoding: 4 slots per expert");
        assertFalse(qwen3.tensorCores(255));
        assertTrue(qwen3.tensorCores(256));
        qwen3.useTensorCores(true);
        assertTrue(qwen3.tensorCores(1), "forced on");
        mixtral.useTensorCores(false);
        assertFalse(mixtral.tensorCores(4096), "forced off");
        mixtral.useTensorCores(null);
        assertTrue(mixtral.tensorCores(4096), "back to the threshold");
        // as the load-time trial moves it: from 4 slots per expert, or never
        mixtral.useTensorCoreSlots(4);
        assertFalse(mixtral.tensorCores(15));
        assertTrue(mixtral.tensorCores(16));
        assertTrue(mixtral.tensorCoreChoice().startsWith("tensor cores (moe_mma) in steps of 16+ tokens (4 slots per expert"),
                mixtral.tensorCoreChoice());
        mixtral.useTensorCoreSlots(Integer.MAX_VALUE);
        assertFalse(mixtral.tensorCores(1 << 20));
        assertEquals("CUDA cores in every step", mixtral.tensorCoreChoice());
    }
}
