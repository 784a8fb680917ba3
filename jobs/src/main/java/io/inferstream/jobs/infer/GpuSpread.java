package io.inferstream.jobs.infer;

import io.inferstream.runtime.backend.DevicePlacement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.stream.Collectors;

/**
 * The GPU a TaskManager's next engine of a model takes when {@code --device} names none ({@code cuda}, {@code auto}):
 * the candidate with the fewest of this model's operator instances already on it (so a job's subtasks spread over the
 * GPUs, and those that share a GPU share its engine and batch together), then the fewest engines of any job in this
 * JVM, then the lowest ordinal. The candidates are the GPUs Flink assigned to the TaskManager (its external resource
 * {@code gpu}), else every device CUDA shows it.
 *
 * @param taskManagerGpus the indices Flink's GPU resource gave this TaskManager; empty when none is configured
 * @param leases          this model's operator instances on a device (an engine each, shared by those on one device)
 * @param openEngines     engines of any job open on a device in this JVM
 */
record GpuSpread(List<Integer> taskManagerGpus, IntUnaryOperator leases, IntUnaryOperator openEngines)
        implements DevicePlacement {

    @Override
    public Placed place(int deviceCount) {
        List<Integer> candidates = new ArrayList<>();
        if (taskManagerGpus.isEmpty()) {
            for (int i = 0; i < deviceCount; i++) {
                candidates.add(i);
            }
        } else {
            for (int gpu : taskManagerGpus) {
                if (gpu < 0 || gpu >= deviceCount) {
                    throw new IllegalStateException("Flink's external resource 'gpu' gave this TaskManager GPU index "
                            + gpu + ", but CUDA shows it " + deviceCount + " device(s), cuda:0 .. cuda:" + (deviceCount - 1)
                            + ": the discovery script's indices must be CUDA's (set CUDA_DEVICE_ORDER=PCI_BUS_ID for "
                            + "nvidia-smi's order, and no CUDA_VISIBLE_DEVICES that hides some)");
                }
                candidates.add(gpu);
            }
        }
        if (candidates.size() == 1 && taskManagerGpus.isEmpty()) {
            return new Placed(candidates.get(0), "");
        }
        int best = candidates.get(0);
        for (int gpu : candidates) {
            int byLeases = Integer.compare(leases.applyAsInt(gpu), leases.applyAsInt(best));
            if (byLeases < 0 || byLeases == 0 && openEngines.applyAsInt(gpu) < openEngines.applyAsInt(best)) {
                best = gpu;
            }
        }
        String source = taskManagerGpus.isEmpty() ? "every GPU this TaskManager sees" : "the GPUs Flink gave this TaskManager";
        String counts = candidates.stream()
                .map(g -> "cuda:" + g + " " + leases.applyAsInt(g) + "/" + openEngines.applyAsInt(g))
                .collect(Collectors.joining(", "));
        return new Placed(best, "spread over " + source + "; this model's subtasks / engines in the JVM on each before: " + counts);
    }
}
