package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.digest.DigestJob;
import io.inferstream.runtime.cuda.CudaDevice;
import io.inferstream.runtime.testing.SharedModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code inferstream stream} and {@code digest} run on a local environment, so their engines are in this JVM: a GPU that
 * is not here fails before the Kafka preflight or the job starts, with the engine's own message (a job main on a
 * cluster's JobManager checks nothing: LocalClusterIT's {@code --device cuda:9} test fails in the TaskManager).
 */
class LocalDeviceCheckTest {
    private static String run(Callable<Integer> job, int expectedRc, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream savedErr = System.err;
        PrintStream savedOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = new CommandLine(job).execute(args);
        } finally {
            System.setErr(savedErr);
            System.setOut(savedOut);
        }
        String text = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
        assertEquals(expectedRc, rc, text);
        return text;
    }

    private static String reason() {
        CudaDevice.Probe here = CudaDevice.probe();
        return here.available() ? "--device cuda:9: this machine has " + here.deviceCount() + " CUDA device(s)"
                : "--device cuda:9: no CUDA device: " + here.reason();
    }

    @Test
    @Timeout(120) // without the check the job starts and restarts forever on its missing device
    void aLocalStreamOrDigestJobOnAGpuThatIsNotHereStopsBeforeKafka() {
        String model = SharedModels.require("stories260K/stories260K.gguf").toString();
        // port 1: nothing listens there; the preflight would wait 15 s for it and then warn
        String stream = run(new StreamingInferenceJob(), 2, "--bootstrap-servers", "localhost:1", "--model", model,
                "--device", "cuda:9");
        assertTrue(stream.contains("stream: " + reason()), stream);
        String digest = run(new DigestJob(), 2, "--bootstrap-servers", "localhost:1", "--model", model, "--device", "cuda:9");
        assertTrue(digest.contains("digest: " + reason()), digest);
        assertFalse(stream.contains("WARNING") || digest.contains("WARNING"), "no Kafka preflight:\n" + stream + digest);
    }
}
