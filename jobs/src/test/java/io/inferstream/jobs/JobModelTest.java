package io.inferstream.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.hub.LocalHubServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * A job's --model where its engines run here (resolved now) and where they run on a cluster (left to the
 * TaskManagers: a job's main in a JobManager downloads nothing and needs no local file).
 */
class JobModelTest {
    private static final String SPEC = "hf://test-owner/tiny/model.gguf";
    private byte[] content; // a tiny GGUF model of random weights

    @TempDir
    Path tmp;
    private LocalHubServer hub;

    @Command
    static final class Flags {
        @Mixin
        HubCliOptions hub;
    }

    private HubCliOptions flags(String... args) {
        Flags f = new Flags();
        new CommandLine(f).parseArgs(args);
        return f.hub;
    }

    @BeforeEach
    void startHub() throws Exception {
        content = Files.readAllBytes(RandomModelWriter.write(ModelShape.TINY, GgmlType.Q8_0, 1, tmp.resolve("tiny.gguf")));
        hub = new LocalHubServer();
        hub.put("/test-owner/tiny/resolve/main/model.gguf", content);
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    @Test
    void onAClusterAnHfModelIsLeftToTheTaskManagersWithTheFlags() throws Exception {
        Path cache = tmp.resolve("cache");
        JobModel m = JobModel.of(SPEC, flags("--cache-dir", cache.toString(), "--hf-endpoint", hub.baseUrl().toString()),
                false);

        assertEquals(SPEC, m.model(), "the engine spec carries the spec, not a path of this machine");
        assertEquals(new HubOverrides(cache.toString(), hub.baseUrl().toString(), false), m.hub());
        assertEquals(SPEC + " (resolved on each TaskManager into its cache (" + cache + "))", m.setting());
        assertTrue(hub.requests().isEmpty(), "nothing downloaded where the main runs");
        assertTrue(Files.notExists(cache));
    }

    @Test
    void onAClusterWithoutACacheFlagEachTaskManagerUsesItsOwnAndOfflineIsSaid() throws Exception {
        JobModel m = JobModel.of(SPEC, flags("--offline"), false);
        assertEquals(SPEC + " (resolved on each TaskManager into its cache (its $INFERSTREAM_CACHE, else"
                + " ~/.cache/inferstream; offline: it must be there already))", m.setting());
        assertTrue(m.hub().offline());
    }

    @Test
    void onAClusterAMalformedSpecStillFailsAtOnce() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JobModel.of("hf://only-owner", flags(), false));
        assertTrue(e.getMessage().contains("hf://only-owner"), e.getMessage());
    }

    @Test
    void onAClusterALocalPathNeedNotBeHere() throws Exception {
        Path absent = tmp.resolve("models/model.gguf");
        JobModel m = JobModel.of(absent.toString(), flags(), false);
        assertEquals(absent.toString(), m.model());
        assertEquals(absent + " (" + absent + " on every TaskManager (not on this machine))", m.setting());
    }

    @Test
    void hereTheModelIsResolvedNow() throws Exception {
        Path cache = tmp.resolve("cache");
        JobModel m = JobModel.of(SPEC, flags("--cache-dir", cache.toString(), "--hf-endpoint", hub.baseUrl().toString()),
                true);

        Path file = Path.of(m.model());
        assertTrue(file.isAbsolute() && file.startsWith(cache), m.model());
        assertArrayEquals(content, Files.readAllBytes(file));
        assertEquals(SPEC + " (" + file + ")", m.setting());

        Path absent = tmp.resolve("absent.gguf");
        assertThrows(NoSuchFileException.class, () -> JobModel.of(absent.toString(), flags(), true));
    }

    @Test
    void hereAFileThatIsNotAModelFailsAtOnceInOneLine() throws Exception {
        Path notes = Files.writeString(tmp.resolve("notes.gguf"), "not a model");
        StringWriter err = new StringWriter();
        assertTrue(JobModel.orSay("stream", notes.toString(), flags(), true, new PrintWriter(err)).isEmpty());
        assertTrue(err.toString().startsWith("stream: " + notes + ": not a GGUF file"), err.toString());
        assertEquals(1, err.toString().lines().count(), err.toString());
        // on a cluster the file is the TaskManagers' to read: not opened here
        assertEquals(notes.toString(), JobModel.orSay("stream", notes.toString(), flags(), false,
                new PrintWriter(err)).orElseThrow().model());
    }

    @Test
    void hereAHuggingFaceFolderIsReadBeforeTheJobAndABadConfigIsOneLine() throws Exception {
        Path folder = Files.createDirectories(tmp.resolve("hf-model"));
        Files.writeString(folder.resolve("config.json"), "{\"model_type\": \"deepseek_v3\"}");
        StringWriter err = new StringWriter();
        assertTrue(JobModel.orSay("stream", folder.toString(), flags(), true, new PrintWriter(err)).isEmpty());
        assertTrue(err.toString().startsWith("stream: " + folder.resolve("config.json") + ": model_type is 'deepseek_v3'"),
                err.toString());
        assertEquals(1, err.toString().lines().count(), err.toString());

        StringWriter spec = new StringWriter();
        assertTrue(JobModel.orSay("stream", "hf://owner/repo@", flags(), false, new PrintWriter(spec)).isEmpty());
        assertTrue(spec.toString().contains("Invalid repository spec 'hf://owner/repo@'"), spec.toString());
        assertEquals("hf://owner/repo@v2", JobModel.orSay("stream", "hf://owner/repo@v2", flags(), false,
                new PrintWriter(spec)).orElseThrow().model(), "on a cluster a repository is the TaskManagers' to fetch");
    }
}
