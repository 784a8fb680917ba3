package io.inferstream.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.KQuantPolicy;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The GPU flags of the model-loading commands reach the CUDA backend's options, and bad values are refused. */
class DeviceCliOptionTest {

    @Command(name = "probe")
    static final class Probe implements Runnable {
        @Mixin
        DeviceCliOption device = new DeviceCliOption();

        @Override
        public void run() {
        }
    }

    private static Probe parse(String... args) {
        Probe p = new Probe();
        new CommandLine(p).parseArgs(args);
        return p;
    }

    @Test
    void defaultsAreTheBackendsDefaults() {
        CudaLlamaModel.Options o = parse().device.cudaOptions(512);
        assertEquals(CudaLlamaModel.Options.defaults(), o);
    }

    @Test
    void memoryFractionKQuantPolicyAndStepSizeReachTheOptions() {
        CudaLlamaModel.Options o = parse("--device", "cuda", "--gpu-memory-fraction", "0.45", "--gpu-kquants", "NATIVE")
                .device.cudaOptions(2048);
        assertEquals(0.45, o.memoryFraction());
        assertEquals(KQuantPolicy.NATIVE, o.kQuants());
        assertEquals(2048, o.maxBatchTokens());
        assertNotEquals(CudaLlamaModel.Options.defaults(), o);
    }

    @Test
    void aFractionOutsideZeroToOneIsAClearError() {
        Probe p = parse("--gpu-memory-fraction", "1.5");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.device.cudaOptions(512));
        assertTrue(e.getMessage().contains("GPU memory fraction must be in (0, 1], got 1.5"), e.getMessage());
    }

    @Test
    void anUnknownKQuantPolicyIsRefusedNamingTheChoices() {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new Probe());
        cl.setErr(new PrintWriter(err));
        int rc = cl.execute("--gpu-kquants", "Q8");
        assertEquals(2, rc);
        assertTrue(err.toString().contains("--gpu-kquants") && err.toString().contains("NATIVE"), err.toString());
    }
}
