package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.KafkaTestBroker;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What {@code submit} finds on this machine before it uploads a streaming or digest job: the job's flags and its Kafka
 * preflight against a real (embedded) broker. The JobManager address is a port where nothing listens, so a submit that
 * went on to upload says "cannot reach the Flink REST API"; one refused here never gets that far. The cluster's side
 * (a main that fails in the JobManager, the digest job) is in {@code LocalClusterIT}.
 */
class SubmitCommandTest {
    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @TempDir
    static Path dir;

    private static Path jar;
    private static String jobManager;

    @BeforeAll
    static void setUp() throws IOException {
        KAFKA.broker().createTopic("submit-prompts", 1);
        jar = Files.write(dir.resolve("job.jar"), new byte[] {'P', 'K'}); // never uploaded: the address is closed
        try (ServerSocket s = new ServerSocket(0)) {
            jobManager = "localhost:" + s.getLocalPort(); // free once closed: nothing listens there
        }
    }

    /** The exit code, standard output and standard error of submit with these options and, after --, job flags. */
    private record Run(int code, String out, String err) {
        boolean triedTheCluster() {
            return err.contains("cannot reach the Flink REST API at http://" + jobManager);
        }

        @Override
        public String toString() {
            return "exit code " + code + "\nout:\n" + out + "\nerr:\n" + err;
        }
    }

    private static Run submit(List<String> options, String... jobFlags) {
        List<String> args = new ArrayList<>(List.of("--jobmanager", jobManager, "--jar", jar.toString()));
        args.addAll(options);
        args.add("--");
        args.addAll(List.of(jobFlags));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = new CommandLine(new SubmitCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute(args.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void aJobFlagItRefusesIsSaidHereAndNothingIsSubmitted() {
        Run r = submit(List.of(), "--bootstrap-servers", KAFKA.bootstrapServers(), "--max-new-tokens", "abc");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().startsWith("submit: the streaming job's arguments (after --): Invalid value for option "
                + "'--max-new-tokens': 'abc' is not an int\n"), r.toString());
        assertTrue(r.err().contains("nothing was submitted; inferstream stream --help lists them"), r.toString());
        assertFalse(r.triedTheCluster(), r.toString());
    }

    @Test
    void theDigestJobsFlagsAreItsOwn() {
        Run r = submit(List.of("--job", "digest"), "--bootstrap-servers", KAFKA.bootstrapServers(),
                "--window", "session", "--gap", "0s");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().startsWith("submit: the digest job's arguments (after --): window gap must be > 0"),
                r.toString());
        assertFalse(r.triedTheCluster(), r.toString());

        Run requestsTopic = submit(List.of("--job", "digest"), "--requests-topic", "x");
        assertEquals(2, requestsTopic.code(), requestsTopic.toString());
        assertTrue(requestsTopic.err().contains("Unknown options: '--requests-topic'"), requestsTopic.toString());
    }

    /** Their mains call System.exit on a failure, which in a JobManager would stop it. */
    @Test
    void theJobsCommandLineMainsAreRefusedAsEntryClasses() {
        Run r = submit(List.of("--entry-class", "io.inferstream.jobs.digest.DigestJob"), "--bounded");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().startsWith("--entry-class io.inferstream.jobs.digest.DigestJob is the command-line main, "
                + "which calls System.exit on a failure: in the JobManager that stops the JobManager; submit it with "
                + "--job digest instead"), r.toString());
        assertFalse(r.triedTheCluster(), r.toString());
    }

    @Test
    void aSavepointIsForTheStreamingAndDigestJobs() {
        Run batch = submit(List.of("--job", "batch", "--from-savepoint", "file:///tmp/sp"), "in/", "--output", "out/");
        assertEquals(2, batch.code(), batch.toString());
        assertTrue(batch.err().startsWith("--from-savepoint is for the streaming and digest jobs: a batch run resumes "
                + "from the results committed under its --output"), batch.toString());

        Run alone = submit(List.of("--allow-non-restored-state"), "--requests-topic", "submit-prompts");
        assertEquals(2, alone.code(), alone.toString());
        assertTrue(alone.err().startsWith("--allow-non-restored-state needs --from-savepoint"), alone.toString());
        assertFalse(alone.triedTheCluster() || batch.triedTheCluster(), alone + "\n" + batch);
    }

    @Test
    void theJobsHelpIsPrintedHere() {
        Run r = submit(List.of("--job", "digest"), "--help");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().startsWith("Usage: digest "), r.toString());
        assertTrue(r.out().contains("--messages-topic"), r.toString());
        assertFalse(r.triedTheCluster(), r.toString());
    }

    @Test
    void aTransactionTimeoutTheBrokersRefuseStopsTheSubmit() {
        Run r = submit(List.of(), "--bootstrap-servers", KAFKA.bootstrapServers(), "--requests-topic", "submit-prompts",
                "--transaction-timeout", "20m");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("ERROR: --transaction-timeout 20m exceeds transaction.max.timeout.ms = 900000 (15m)"),
                r.toString());
        assertTrue(r.err().contains("submit: Kafka at " + KAFKA.bootstrapServers() + " as seen from this machine"),
                r.toString());
        assertTrue(r.err().endsWith("submit: nothing was submitted\n"), r.toString());
        assertFalse(r.triedTheCluster(), r.toString());

        Run unchecked = submit(List.of("--no-kafka-check"), "--bootstrap-servers", KAFKA.bootstrapServers(),
                "--transaction-timeout", "20m");
        assertTrue(unchecked.triedTheCluster(), "--no-kafka-check goes on to the upload: " + unchecked);
    }

    /**
     * A missing topic: when submit waits and would cancel the job that fails on it, an error before the upload; when it
     * does not wait, or leaves a failing job to its restarts, a warning, and the upload goes on.
     */
    @Test
    void aMissingTopicStopsASubmitThatWouldCancelTheJobAndIsAWarningOtherwise() {
        String[] flags = {"--bootstrap-servers", KAFKA.bootstrapServers(), "--requests-topic", "no-such-prompts"};
        Run waits = submit(List.of("--wait-running"), flags);
        assertEquals(2, waits.code(), waits.toString());
        assertTrue(waits.err().contains("ERROR: topic 'no-such-prompts' does not exist on " + KAFKA.bootstrapServers()
                + ": the job's Kafka source would fail, and --wait-running cancels a job that fails while starting; "
                + "create the topic first, or add --keep-on-failure"), waits.toString());
        assertFalse(waits.triedTheCluster(), waits.toString());

        for (List<String> options : List.of(List.<String>of(), List.of("--wait-running", "--keep-on-failure"))) {
            Run r = submit(options, flags);
            assertEquals(1, r.code(), options + ": " + r);
            assertTrue(r.err().contains("WARNING: topic 'no-such-prompts' does not exist on "
                    + KAFKA.bootstrapServers() + " (yet): the job's Kafka source fails, and the job restarts, until it "
                    + "does"), options + ": " + r);
            assertTrue(r.triedTheCluster(), options + ": " + r);
        }
    }

    /** A relative model path is taken from where submit runs: the job's main runs in the JobManager's folder. */
    @Test
    void aRelativeModelPathIsMadeAbsoluteHereAndSaid() {
        Run r = submit(List.of(), "--bootstrap-servers", KAFKA.bootstrapServers(), "--requests-topic", "submit-prompts",
                "--model", "models/m.gguf");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("submit: --model models/m.gguf is taken from here: "
                + Path.of("models/m.gguf").toAbsolutePath() + "\n"), r.toString());
        assertTrue(r.triedTheCluster(), r.toString());
    }

    @Test
    void aMalformedHfModelIsSaidHereAndNothingIsSubmitted() {
        for (String job : List.of("streaming", "digest")) {
            Run r = submit(List.of("--job", job), "--bootstrap-servers", KAFKA.bootstrapServers(), "--model", "hf://only-owner");
            assertEquals(2, r.code(), job + ": " + r);
            assertTrue(r.err().contains("submit: the " + job + " job's arguments (after --): Invalid model spec 'hf://only-owner'"),
                    job + ": " + r);
            assertFalse(r.triedTheCluster(), job + ": " + r);
        }
    }

    /** The cluster's absence in one line, without a stack trace; and for status and cancel too. */
    @Test
    void aJobManagerThatIsNotThereIsOneLine() {
        Run r = submit(List.of(), "--bootstrap-servers", KAFKA.bootstrapServers(), "--requests-topic", "submit-prompts");
        assertEquals(1, r.code(), r.toString());
        assertEquals("submit: upload job.jar: cannot reach the Flink REST API at http://" + jobManager
                + " (java.net.ConnectException)\n", r.err());
        assertEquals("", r.out());

        Map<CommandLine, List<String>> others = Map.of(new CommandLine(new StatusCommand()), List.of(),
                new CommandLine(new CancelCommand()), List.of(),
                new CommandLine(new StopCommand()), List.of("--savepoint-dir", "file:///tmp/savepoints"));
        for (Map.Entry<CommandLine, List<String>> other : others.entrySet()) {
            CommandLine command = other.getKey();
            List<String> args = new ArrayList<>(List.of("--jobmanager", jobManager, "0123456789abcdef"));
            args.addAll(other.getValue());
            StringWriter err = new StringWriter();
            int code = command.setErr(new PrintWriter(err)).execute(args.toArray(new String[0]));
            assertEquals(1, code, err.toString());
            assertEquals(1, err.toString().lines().count(), err.toString());
            assertTrue(err.toString().startsWith(command.getCommandName() + ": "), err.toString());
            assertTrue(err.toString().contains("cannot reach the Flink REST API"), err.toString());
        }
    }
}
