package io.inferstream.runtime.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;

/**
 * The emulated CUDA driver (model-runtime/src/main/cuda/emulate.sh: the kernels compiled for the host with g++) that
 * lets a JVM without a GPU run the CUDA backend's real code path: a JVM with the built folder on LD_LIBRARY_PATH and
 * {@code INFERSTREAM_EMULATED_CC} set finds it as libcuda.so.1.
 */
public final class EmulatedDriver {

    /**
     * Every load-time kernel choice forced (no trial runs, which take minutes on the emulator), the newest way; but a
     * mixture's experts on CUDA cores, as its tests that want tensor cores ask for them.
     */
    public static final List<String> FORCED = List.of("-Dinferstream.cuda.norm=vec", "-Dinferstream.cuda.attention=split",
            "-Dinferstream.cuda.tiledAttention=on", "-Dinferstream.cuda.tiledDecode=off",
            "-Dinferstream.cuda.attentionPrefetch=on", "-Dinferstream.cuda.fuseHalves=on", "-Dinferstream.cuda.fuseRope=on",
            "-Dinferstream.cuda.productReduction=on", "-Dinferstream.cuda.fuseNorm=false",
            "-Dinferstream.cuda.l2PrefetchMiB=1", "-Dinferstream.cuda.programmaticLaunch=on",
            "-Dinferstream.cuda.skinny=stream", "-Dinferstream.cuda.skinnyGroup=on",
            "-Dinferstream.cuda.skinnySplit=default", "-Dinferstream.cuda.packedStream=on",
            "-Dinferstream.cuda.tallStream=on", "-Dinferstream.cuda.slicedPrefill=on", "-Dinferstream.cuda.quantStream=on",
            "-Dinferstream.cuda.smallStream=on", "-Dinferstream.cuda.wgmma=on",
            "-Dinferstream.cuda.expertTensorCores=off");

    private EmulatedDriver() {
    }

    /**
     * Builds the driver into {@code out} (its libcuda.so.1) with {@code script} (emulate.sh) and returns {@code out};
     * aborts the test, printing why, where g++ or the fibers' ucontext is missing.
     */
    public static Path build(Path script, Path out) throws IOException, InterruptedException {
        assertTrue(Files.isRegularFile(script), script + " is missing");
        if (!onPath("g++") || !onPath("bash")) {
            skip("no g++ on the PATH: install g++ to run the GPU tests on the emulated CUDA driver");
        }
        Process p = new ProcessBuilder("bash", script.toString(), "libcuda", out.toString()).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "emulate.sh libcuda timed out");
        if (p.exitValue() == 3) {
            skip(text.strip());
        }
        assertEquals(0, p.exitValue(), text);
        assertTrue(Files.isRegularFile(out.resolve("libcuda.so.1")), text);
        return out;
    }

    private static void skip(String reason) {
        System.out.println("SKIPPED: " + reason);
        Assumptions.abort(reason);
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }
}
