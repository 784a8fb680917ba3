package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The lines {@code submit} and {@code status} print from the engine gauges of a job's subtasks. */
class EngineDevicesTest {
    @Test
    void subtasksOnDifferentDevicesGetALineEachAndOtherMetricsAreIgnored() {
        Map<String, String> metrics = new TreeMap<>(Map.of(
                "0.inference.engine.device", "cuda:0 (NVIDIA H200, compute 9.0)",
                "0.inference.engine.deviceChoice", "--device auto: 1 CUDA device(s); using the CUDA backend on cuda:0",
                "2.inference.engine.device", "cuda:0 (NVIDIA H200, compute 9.0)",
                "2.inference.engine.deviceChoice", "--device auto: 1 CUDA device(s); using the CUDA backend on cuda:0",
                "1.inference.engine.device", "cpu",
                "1.inference.engine.deviceChoice", "--device auto: no CUDA device (cuInit failed: CUDA_ERROR_NO_DEVICE); "
                        + "using the CPU backend",
                "1.inference.engine.steps", "12"));

        assertEquals(List.of(
                "cuda:0 (NVIDIA H200, compute 9.0) in inference subtasks 0,2 of 3 (--device auto: 1 CUDA device(s); "
                        + "using the CUDA backend on cuda:0)",
                "cpu in inference subtask 1 of 3 (--device auto: no CUDA device (cuInit failed: CUDA_ERROR_NO_DEVICE); "
                        + "using the CPU backend)"),
                EngineDevices.lines(metrics, 3));
    }

    @Test
    void aDeviceWithoutItsChoiceYetIsStillSaid() {
        assertEquals(List.of("cpu in summarize-window subtask 0 of 1"),
                EngineDevices.lines(Map.of("0.summarize-window.engine.device", "cpu"), 1));
        assertEquals(List.of(), EngineDevices.lines(Map.of("0.inference.engine.steps", "3"), 1));
    }

    @Test
    void anOperatorIsReportedWhenEachOfItsSubtasksHasSaidItsDevice() {
        // the second subtask's engine had not reported yet when submit once printed the first one's line alone
        Map<String, String> one = Map.of(
                "1.inference.engine.device", "cuda:0 (NVIDIA H200, compute 9.0)",
                "1.inference.engine.deviceChoice", "--device cuda: using the CUDA backend on cuda:0");
        assertFalse(EngineDevices.allReported(one, 2));
        Map<String, String> both = new TreeMap<>(one);
        both.put("0.inference.engine.deviceChoice", "--device cuda: using the CUDA backend on cuda:1");
        assertFalse(EngineDevices.allReported(both, 2)); // a choice without its device yet
        both.put("0.inference.engine.device", "cuda:1 (NVIDIA H200, compute 9.0)");
        assertTrue(EngineDevices.allReported(both, 2));
        both.put("0.summarize-window.engine.device", "cpu");
        assertFalse(EngineDevices.allReported(both, 2)); // every operator with an engine, each at the vertex's parallelism
        assertTrue(EngineDevices.allReported(Map.of("0.inference.engine.steps", "3"), 1)); // no engine: nothing to wait for
    }

    @Test
    void aSubtaskDownloadingItsModelGetsALineAndOneWithoutADownloadNone() {
        Map<String, String> metrics = new TreeMap<>(Map.of(
                "1.inference.engine.modelDownload", "0.5 of 1.1 MiB (44%), 3.2 MiB/s",
                "0.inference.engine.modelDownload", "0.5 of 1.1 MiB (44%), 3.2 MiB/s",
                "2.inference.engine.modelDownload", "",
                "0.inference.engine.device", "cpu"));
        assertEquals(List.of("inference subtask 0: downloading its model: 0.5 of 1.1 MiB (44%), 3.2 MiB/s",
                "inference subtask 1: downloading its model: 0.5 of 1.1 MiB (44%), 3.2 MiB/s"),
                EngineDevices.downloadLines(metrics));
        assertEquals(List.of(), EngineDevices.downloadLines(Map.of("0.inference.engine.modelDownload", "")));
    }
}
