package io.inferstream.runtime.cli;

import io.inferstream.runtime.backend.Backends;
import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import java.io.PrintStream;
import picocli.CommandLine.Option;

/**
 * {@code --device} for the commands that load a model (a picocli mixin): the same choice as the Flink jobs' flag,
 * through {@link Backends}, and the one line that says which backend was chosen and why.
 */
public final class DeviceCliOption {

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEVICE",
            description = "Where the model runs: cpu, cuda, cuda:N or auto (a GPU when one is usable, else the CPU) (default: ${DEFAULT-VALUE}).")
    String device = "cpu";

    /** The parsed option (a clear error for anything but cpu, cuda, cuda:N, auto). */
    public DeviceOption option() {
        return DeviceOption.parse(device);
    }

    /** Loads the GGUF model on the chosen backend and prints the choice to {@code log}. */
    public LanguageModel load(GgufFile gguf, PrintStream log) {
        Backends.Loaded loaded = Backends.load(gguf, option(), CudaLlamaModel.Options.defaults());
        log.println(loaded.choice().reason());
        return loaded.model();
    }
}
