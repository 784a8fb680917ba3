package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.backend.DevicePlacement.Placed;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import org.apache.flink.api.common.externalresource.ExternalResourceInfo;
import org.junit.jupiter.api.Test;

/** Where a TaskManager's next engine of a model goes when --device names no GPU. */
class GpuSpreadTest {

    /** Operator instances opening one after another: each takes the device with the fewest, so four go 0, 1, 0, 1. */
    @Test
    void aJobsSubtasksSpreadOverEveryGpuAndShareOnceEachHasOne() {
        Map<Integer, Integer> leases = new HashMap<>();
        StringBuilder order = new StringBuilder();
        for (int subtask = 0; subtask < 4; subtask++) {
            Placed p = new GpuSpread(List.of(), g -> leases.getOrDefault(g, 0), g -> 0).place(2);
            leases.merge(p.ordinal(), 1, Integer::sum);
            order.append(p.ordinal());
        }
        assertEquals("0101", order.toString());
        Placed p = new GpuSpread(List.of(), g -> g == 0 ? 2 : 1, g -> 0).place(2);
        assertEquals("spread over every GPU this TaskManager sees; this model's subtasks / engines in the JVM on each "
                + "before: cuda:0 2/0, cuda:1 1/0", p.why());
    }

    /** Between devices this model uses equally, the one fewer engines of other jobs in the JVM hold; then the lowest. */
    @Test
    void otherJobsEnginesBreakTiesThenTheLowestOrdinal() {
        assertEquals(2, new GpuSpread(List.of(), g -> 0, g -> g == 2 ? 0 : 1).place(4).ordinal());
        assertEquals(1, new GpuSpread(List.of(), g -> g == 0 ? 1 : 0, g -> g == 1 ? 3 : 3).place(3).ordinal());
        assertEquals(0, new GpuSpread(List.of(), g -> 5, g -> 5).place(3).ordinal());
        // this model's instances come first: a device busy with another job still gets this model's first engine there
        assertEquals(1, new GpuSpread(List.of(), g -> g == 0 ? 1 : 0, g -> g == 1 ? 9 : 0).place(2).ordinal());
    }

    @Test
    void oneGpuIsTakenWithoutAReason() {
        assertEquals(new Placed(0, ""), new GpuSpread(List.of(), g -> 7, g -> 7).place(1));
    }

    /** With GPUs from Flink's external resource, only those are candidates; an index CUDA lacks is a clear error. */
    @Test
    void flinksGpusAreTheOnlyCandidates() {
        Placed p = new GpuSpread(List.of(2, 3), g -> g == 2 ? 1 : 0, g -> 0).place(4);
        assertEquals(3, p.ordinal());
        assertTrue(p.why().startsWith("spread over the GPUs Flink gave this TaskManager; ") && p.why().endsWith("cuda:2 1/0, cuda:3 0/0"),
                p.why());
        assertEquals(1, new GpuSpread(List.of(1), g -> 3, g -> 3).place(2).ordinal(), "one GPU from Flink: that one");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new GpuSpread(List.of(0, 2), g -> 0, g -> 0).place(2));
        assertTrue(e.getMessage().contains("GPU index 2, but CUDA shows it 2 device(s), cuda:0 .. cuda:1")
                && e.getMessage().contains("CUDA_DEVICE_ORDER=PCI_BUS_ID"), e.getMessage());
    }

    /** The indices read from Flink's resource infos (GPUInfo's "index" property), sorted; one without is refused. */
    @Test
    void taskManagerGpusAreTheIndicesOfFlinksResourceInfos() {
        assertEquals(List.of(), TaskManagerGpus.indices(Set.of()));
        assertEquals(List.of(0, 3), TaskManagerGpus.indices(Set.of(info("index", "3"), info("index", "0"))));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TaskManagerGpus.indices(Set.of(info("uuid", "GPU-1234"))));
        assertTrue(e.getMessage().contains("without a numeric 'index' property (none; its properties: [uuid])"), e.getMessage());
    }

    private static ExternalResourceInfo info(String key, String value) {
        Properties p = new Properties();
        p.setProperty(key, value);
        return new ExternalResourceInfo() {
            @Override
            public Optional<String> getProperty(String k) {
                return Optional.ofNullable(p.getProperty(k));
            }

            @Override
            public java.util.Collection<String> getKeys() {
                return p.stringPropertyNames();
            }
        };
    }
}
