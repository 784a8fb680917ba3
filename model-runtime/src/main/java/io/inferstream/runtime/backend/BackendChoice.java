package io.inferstream.runtime.backend;

import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.cuda.DeviceSupport;
import io.inferstream.runtime.model.ModelConfig;

/**
 * Which backend a {@link DeviceOption} resolves to on this machine, and a one-line reason to print.
 *
 * @param cuda    true for the CUDA backend, false for the CPU
 * @param ordinal CUDA device index when {@code cuda}
 * @param reason  why, e.g. "auto: no CUDA device (cuInit failed: ...); using the CPU backend"
 */
public record BackendChoice(boolean cuda, int ordinal, String reason) {

    /** {@link #resolve(DeviceOption, CudaDevice.Probe, DevicePlacement)} on cuda:0 where the option names no device. */
    public static BackendChoice resolve(DeviceOption option, CudaDevice.Probe probe) {
        return resolve(option, probe, DevicePlacement.FIRST);
    }

    /**
     * Resolves {@code option} against what {@link CudaDevice#probe()} found (passed in so tests can vary it); where the
     * option names no device, {@code placement} picks one.
     */
    public static BackendChoice resolve(DeviceOption option, CudaDevice.Probe probe, DevicePlacement placement) {
        switch (option.kind()) {
            case CPU:
                return new BackendChoice(false, 0, "--device cpu: using the CPU backend");
            case CUDA:
                if (!probe.available()) {
                    throw new IllegalStateException("--device " + option + ": no CUDA device: " + probe.reason()
                            + " (" + probe.remedy() + ")");
                }
                if (option.ordinal() >= probe.deviceCount()) {
                    throw new IllegalStateException("--device " + option + ": this machine has " + probe.deviceCount()
                            + " CUDA device(s), cuda:0 .. cuda:" + (probe.deviceCount() - 1));
                }
                if (option.ordinal() != DeviceOption.ANY) {
                    return new BackendChoice(true, option.ordinal(), "--device " + option + ": using the CUDA backend");
                }
                return placed("--device cuda: using the CUDA backend", probe, placement);
            case AUTO:
            default:
                if (probe.available()) {
                    return placed("--device auto: " + probe.reason() + "; using the CUDA backend", probe, placement);
                }
                String gpu = probe.remedy().equals(CudaDevice.Probe.OTHER_BACKENDS) ? "" : "; for the GPU: " + probe.remedy();
                return new BackendChoice(false, 0, "--device auto: no CUDA device (" + probe.reason()
                        + "); using the CPU backend" + gpu);
        }
    }

    /**
     * This choice for a model of {@code config}: {@code --device auto} that found a GPU falls back to the CPU, saying why,
     * when the CUDA kernels do not run a model of its shape ({@link DeviceSupport#refusal}: a head size or expert width
     * outside their limits); an explicit {@code cuda} keeps the GPU and its load fails naming {@code --device cpu}.
     */
    public BackendChoice forModel(DeviceOption option, ModelConfig config) {
        java.util.Optional<String> refusal = DeviceSupport.refusal(config);
        if (!cuda || option.kind() != DeviceOption.Kind.AUTO || refusal.isEmpty()) {
            return this;
        }
        return new BackendChoice(false, 0, "--device auto: a CUDA device is present, but the CUDA backend does not run this "
                + config.architecture() + " model (" + refusal.get() + "); using the CPU backend");
    }

    private static BackendChoice placed(String reason, CudaDevice.Probe probe, DevicePlacement placement) {
        DevicePlacement.Placed p = placement.place(probe.deviceCount());
        if (p.ordinal() < 0 || p.ordinal() >= probe.deviceCount()) {
            throw new IllegalStateException("placed on cuda:" + p.ordinal() + ", but this machine has " + probe.deviceCount()
                    + " CUDA device(s), cuda:0 .. cuda:" + (probe.deviceCount() - 1) + (p.why().isEmpty() ? "" : " (" + p.why() + ")"));
        }
        return new BackendChoice(true, p.ordinal(), reason + " on cuda:" + p.ordinal() + (p.why().isEmpty() ? "" : " (" + p.why() + ")"));
    }
}
