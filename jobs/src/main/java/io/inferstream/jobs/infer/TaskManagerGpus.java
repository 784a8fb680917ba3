package io.inferstream.jobs.infer;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.flink.api.common.externalresource.ExternalResourceInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GPUs Flink gave this TaskManager: the {@code index} of each {@link ExternalResourceInfo} of the external resource
 * named {@value #RESOURCE} (Flink's GPU plugin, {@code external-resources: gpu}; docs/operations.md). Empty where no
 * such resource is configured: then the engines spread over every GPU CUDA shows the TaskManager.
 */
final class TaskManagerGpus {
    static final String RESOURCE = "gpu";
    private static final Logger LOG = LoggerFactory.getLogger(TaskManagerGpus.class);

    private TaskManagerGpus() {
    }

    /** The indices in {@code infos} (what {@code RuntimeContext.getExternalResourceInfos("gpu")} returns), sorted. */
    static List<Integer> indices(Set<ExternalResourceInfo> infos) {
        List<Integer> gpus = new ArrayList<>();
        for (ExternalResourceInfo info : infos) {
            Optional<String> index = info.getProperty("index");
            if (index.isEmpty() || !index.get().trim().matches("\\d{1,4}")) {
                throw new IllegalStateException("Flink's external resource '" + RESOURCE + "' gave this TaskManager a GPU "
                        + "without a numeric 'index' property (" + index.orElse("none") + "; its properties: "
                        + info.getKeys() + "); InferStream places engines by CUDA device index");
            }
            gpus.add(Integer.parseInt(index.get().trim()));
        }
        gpus.sort(null);
        if (!gpus.isEmpty() && !"PCI_BUS_ID".equals(System.getenv("CUDA_DEVICE_ORDER"))) {
            LOG.warn("Flink gave this TaskManager GPUs {} (nvidia-smi's indices, in PCI bus order); CUDA numbers devices "
                    + "fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID is set in the TaskManager's environment, so on a "
                    + "machine with mixed GPUs the two may differ", gpus);
        }
        return List.copyOf(gpus);
    }
}
