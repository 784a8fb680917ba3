package io.inferstream.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.hub.LocalHubServer;
import io.inferstream.runtime.hub.Sha256;
import io.inferstream.runtime.testing.SharedModels;
import picocli.CommandLine;

/** {@code inferstream models pull|path|list} end to end against a local HTTP server. */
class ModelsCommandTest {

    private static final String SPEC = "hf://acme/tiny-model/weights.bin";
    private static final byte[] CONTENT = new byte[2 * 1024 * 1024]; // exactly 2 MiB

    static {
        new Random(5).nextBytes(CONTENT);
    }

    @TempDir
    Path cacheDir;

    private LocalHubServer server;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void start() throws IOException {
        server = new LocalHubServer();
        server.put("/acme/tiny-model/resolve/main/weights.bin", CONTENT);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private int run(String... args) {
        Map<String, String> env = Map.of("INFERSTREAM_CACHE", cacheDir.toString(),
                "INFERSTREAM_HF_ENDPOINT", server.baseUrl().toString());
        CommandLine cli = new CommandLine(new ModelsCommand(env));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void pullDownloadsPrintsThePathAndListShowsTheFile() throws IOException {
        Path expected = cacheDir.resolve("hf/acme/tiny-model/main/weights.bin");

        assertEquals(0, run("pull", SPEC), err.toString());

        assertEquals(expected.toString(), out.toString().strip());
        assertArrayEquals(CONTENT, Files.readAllBytes(expected));
        assertTrue(err.toString().contains("weights.bin"), "progress is shown on stderr: " + err);

        out.getBuffer().setLength(0);
        assertEquals(0, run("list"));
        String listed = out.toString();
        assertTrue(listed.contains("2.0 MiB"), listed);
        assertTrue(listed.contains(SPEC), listed);
        assertTrue(listed.contains(expected.toString()), listed);
    }

    @Test
    void pullChecksACallerSuppliedSha256() {
        String other = Sha256.of(new byte[] {1});

        assertEquals(1, run("pull", SPEC, "--sha256", other));

        assertTrue(err.toString().contains("expected sha256 " + other), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void pathOfflineForAMissingModelNamesTheFileAndTouchesNoNetwork() {
        Path other = cacheDir.resolve("elsewhere");

        assertEquals(1, run("path", SPEC, "--offline", "--cache-dir", other.toString()));

        assertTrue(err.toString().contains(other.resolve("hf/acme/tiny-model/main/weights.bin").toString()), err.toString());
        assertTrue(err.toString().contains(SPEC), err.toString());
        assertTrue(server.requests().isEmpty());
    }

    @Test
    void pathOfflineForACachedModelPrintsIt() throws IOException {
        assertEquals(0, run("pull", SPEC));
        int requests = server.requests().size();
        out.getBuffer().setLength(0);

        assertEquals(0, run("path", SPEC, "--offline"));

        assertEquals(cacheDir.resolve("hf/acme/tiny-model/main/weights.bin").toString(), out.toString().strip());
        assertEquals(requests, server.requests().size());
    }

    @Test
    void pathOfALocalFilePrintsItAndOfAMissingOneNamesIt() {
        Path gguf = SharedModels.require("stories260K/stories260K.gguf");

        assertEquals(0, run("path", gguf.toString()));
        assertEquals(gguf.toAbsolutePath().normalize().toString(), out.toString().strip());

        Path missing = cacheDir.resolve("missing.gguf");
        assertEquals(1, run("path", missing.toString()));
        assertTrue(err.toString().contains(missing.toString()), err.toString());
    }

    @Test
    void listOfAnEmptyCacheSaysSo() {
        assertEquals(0, run("list"));
        assertTrue(out.toString().contains("No models cached in " + cacheDir), out.toString());
    }

    @Test
    void missingSubcommandIsAUsageError() {
        assertEquals(2, run());
        assertTrue(err.toString().contains("Missing subcommand"), err.toString());
    }
}
