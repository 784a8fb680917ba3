package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.cli.InferStream;
import io.inferstream.runtime.cuda.CudaDevice;
import java.io.PrintWriter;
import java.io.StringWriter;

import java.time.Duration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The checkpoint settings the streaming jobs derive from their flags. */
class InferenceOptionsTest {

    private static InferenceOptions parse(String... args) {
        InferenceOptions o = new InferenceOptions();
        new CommandLine(o).parseArgs(args);
        return o;
    }

    /** For a job whose engines run in this JVM: the choice line, or the engine's own error before anything starts. */
    @Test
    void theDeviceIsResolvedHereForALocalRun() {
        assertEquals("--device cpu: using the CPU backend", parse().deviceHere().reason());
        CudaDevice.Probe here = CudaDevice.probe();
        if (here.available()) {
            assertTrue(parse("--device", "auto").deviceHere().cuda());
        } else {
            assertTrue(parse("--device", "auto").deviceHere().reason().contains(here.reason()));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> parse("--device", "cuda").deviceHere());
            assertEquals("--device cuda: no CUDA device: " + here.reason() + " (" + here.remedy() + ")", e.getMessage());
        }
        IllegalStateException nine = assertThrows(IllegalStateException.class, () -> parse("--device", "cuda:9").deviceHere());
        assertTrue(nine.getMessage().startsWith("--device cuda:9: "), nine.getMessage());
    }

    @Test
    void speculativeDecodingFlagsReachTheEngineAndItsListingAndAreOffByDefault() {
        InferenceOptions off = parse();
        assertEquals(io.inferstream.runtime.speculative.Speculation.OFF, off.engineSpec("/m.gguf", "m").engineConfig().speculation());
        assertEquals(off.engineSpec("/m.gguf", "m"), new InferenceOptions().engineSpec("/m.gguf", "m"),
                "options built in code have the command line's defaults");
        InferenceOptions on = parse("--speculative-tokens", "3", "--prompt-lookup-min", "1", "--prompt-lookup-max", "5",
                "--speculative-max-sequences", "2");
        assertEquals(new io.inferstream.runtime.speculative.Speculation(3, 1, 5, 2),
                on.engineSpec("/m.gguf", "m").engineConfig().speculation());
        assertEquals("prompt lookup, 3 tokens, n-grams 1..5, up to 2 sequences", on.settings().get("speculative-tokens"));
        assertEquals("off", off.settings().get("speculative-tokens"));
    }

    @Test
    void theDefaultTransactionTimeoutIsTheDefaultBrokersMaximumAndKeepsFlinksCheckpointTimeout() {
        InferenceOptions o = parse();
        assertEquals(Duration.ofMinutes(15), o.transactionTimeout);
        assertEquals(Duration.ofMinutes(10), o.checkpointTimeout());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        o.configure(env);
        assertEquals(10_000, env.getCheckpointConfig().getCheckpointInterval());
        assertEquals(600_000, env.getCheckpointConfig().getCheckpointTimeout());
        assertEquals("15m", o.settings().get("transaction-timeout"));
        assertEquals("10m", o.settings().get("checkpoint-timeout"));
    }

    @Test
    void aShortTransactionTimeoutShortensTheCheckpointTimeoutSoCheckpointsExpireFirst() {
        InferenceOptions o = parse("--transaction-timeout", "60s", "--checkpoint-interval", "10s");
        assertEquals(Duration.ofSeconds(45), o.checkpointTimeout(), "90 % of (60 s - 10 s)");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        o.configure(env);
        assertEquals(45_000, env.getCheckpointConfig().getCheckpointTimeout());
    }

    @Test
    void onTheCommandLineTheRefusalIsAUsageErrorBeforeAnythingStarts() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new InferStream()).setErr(new PrintWriter(err));
        int code = cli.execute("replay", "--transaction-timeout", "1s"); // replay checkpoints every second
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().startsWith("--transaction-timeout 1s must be at least twice --checkpoint-interval 1s"),
                err.toString());
    }

    /** Bad speculative-decoding flags: one usage line naming the flag before a broker, a job or a model starts. */
    @Test
    void badSpeculationFlagsAreAUsageErrorBeforeAnythingStarts() {
        for (String[] args : new String[][] {{"replay", "--speculative-tokens", "-1"},
                {"replay", "--digest", "--speculative-tokens", "2", "--prompt-lookup-min", "5"},
                {"batch", "--model", "/nonexistent.gguf", "--output", "/nonexistent-out", "--speculative-max-sequences", "0",
                        "/nonexistent-in"},
                {"stream", "--model", "/nonexistent.gguf", "--speculative-tokens", "-3"}}) {
            StringWriter err = new StringWriter();
            int code = new CommandLine(new InferStream()).setErr(new PrintWriter(err)).execute(args);
            assertEquals(2, code, String.join(" ", args) + ": " + err);
            String first = err.toString().lines().findFirst().orElse("");
            assertTrue(first.contains("--speculative-tokens") || first.contains("--prompt-lookup-min")
                    || first.contains("--speculative-max-sequences"), String.join(" ", args) + ": " + err);
            assertFalse(err.toString().contains("\tat "), "no stack trace: " + err);
        }
    }

    @Test
    void aTransactionTimeoutUnderTwoIntervalsIsRefusedNamingBothFlags() {
        InferenceOptions o = parse("--transaction-timeout", "15s", "--checkpoint-interval", "10s");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> o.configure(StreamExecutionEnvironment.getExecutionEnvironment()));
        assertEquals("--transaction-timeout 15s must be at least twice --checkpoint-interval 10s: a Kafka transaction "
                + "stays open for an interval and the checkpoint that commits it", e.getMessage());
    }
}
