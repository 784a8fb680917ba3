package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The CUDA kernels' fused forms against the separate kernels they replace, and matmul_stream against a double
 * product, run on the host by src/main/cuda/emulate.sh (threads as fibers, so barriers and warp shuffles behave as on
 * a GPU; the tensor-core step emulated with the PTX fragment layout), once in each order of blocks and threads the
 * emulator has (a missing barrier shows in some orders only): no GPU needed, only g++. Skipped, with the reason printed, where there is no g++; the same kernels run on a GPU in the *GpuTest classes.
 */
class KernelEmulationTest {

    @Test
    void fusedKernelsWriteTheBitsOfTheSeparateOnesOnTheHost() throws IOException, InterruptedException {
        Path script = Path.of("src/main/cuda/emulate.sh").toAbsolutePath();
        assertTrue(Files.isRegularFile(script), script + " (tests run from the model-runtime folder)");
        if (!onPath("g++") || !onPath("bash")) {
            String reason = "no g++ on the PATH: install g++ to run the host emulation of the CUDA kernels (on a GPU the *GpuTest classes run the same kernels)";
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        // in three orders of blocks and threads (cuda_shim.h): each shows missing barriers the others do not
        Process p = new ProcessBuilder("bash", script.toString(), "check", "forward", "reverse", "shuffle:1")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "emulate.sh timed out");
        if (p.exitValue() == 3) { // the machine cannot run the fibers (no ucontext in its C library): say so, skip
            String reason = out.strip();
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        assertEquals(0, p.exitValue(), out);
        for (String order : new String[] {"forward", "reverse", "shuffle:1"}) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\[emulate] " + java.util.regex.Pattern.quote(order)
                    + ": passed \\((\\d+) checks\\)").matcher(out);
            assertTrue(m.find(), order + ":\n" + out);
            assertTrue(Integer.parseInt(m.group(1)) >= 375, out); // every check of kernel_check.cpp ran
        }
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
