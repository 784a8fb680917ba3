package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.hub.LocalHubServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A TaskManager finds its engine's model: a local file, or an hf:// spec it resolves into its own cache. */
class TaskManagerModelFileTest {
    private static final String SPEC = "hf://test-owner/tiny/model.gguf";
    private static final String FILE_PATH = "/test-owner/tiny/resolve/main/model.gguf";
    private static final byte[] CONTENT = "GGUF and some bytes that stand for a model".getBytes();

    @TempDir
    Path tmp;
    private LocalHubServer hub;

    @BeforeEach
    void startHub() throws Exception {
        hub = new LocalHubServer();
        hub.put(FILE_PATH, CONTENT);
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private static EngineSpec spec(String model, HubOverrides overrides) {
        return EngineSpec.of(model, model).withHub(overrides);
    }

    @Test
    void anHfModelIsDownloadedOnceIntoTheCacheTheJobsFlagsName() throws Exception {
        Path cache = tmp.resolve("job-cache");
        EngineSpec spec = spec(SPEC, new HubOverrides(cache.toString(), hub.baseUrl().toString(), false));
        // the TaskManager's own environment names another cache and endpoint: the job's flags win over it
        Map<String, String> env = Map.of("INFERSTREAM_CACHE", tmp.resolve("tm-cache").toString(),
                "INFERSTREAM_HF_ENDPOINT", "http://127.0.0.1:1");

        Path file = TaskManagerModelFile.locate(spec, env);
        assertTrue(file.startsWith(cache), file.toString());
        assertArrayEquals(CONTENT, Files.readAllBytes(file));
        assertEquals(file, TaskManagerModelFile.locate(spec, env), "the second engine on this TaskManager");
        assertEquals(1, hub.requests().stream().filter(r -> r.method().equals("GET")).count(),
                "downloaded once, then taken from the cache: " + hub.requests().size() + " requests");
        assertTrue(Files.notExists(tmp.resolve("tm-cache")));
    }

    @Test
    void withoutFlagsTheTaskManagersEnvironmentDecidesAndItsTokenIsSent() throws Exception {
        hub.requireToken("tm-secret");
        Path cache = tmp.resolve("tm-cache");
        Map<String, String> env = Map.of("INFERSTREAM_CACHE", cache.toString(),
                "INFERSTREAM_HF_ENDPOINT", hub.baseUrl().toString(), "HF_TOKEN", "tm-secret");

        Path file = TaskManagerModelFile.locate(spec(SPEC, HubOverrides.NONE), env);

        assertTrue(file.startsWith(cache), file.toString());
        assertArrayEquals(CONTENT, Files.readAllBytes(file));
    }

    @Test
    void offlineWithoutTheFileInTheCacheSaysWhereItBelongsOnThisTaskManager() {
        Path cache = tmp.resolve("empty-cache");
        EngineSpec spec = spec(SPEC, new HubOverrides(cache.toString(), hub.baseUrl().toString(), true));

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TaskManagerModelFile.locate(spec, Map.of()));

        assertTrue(e.getMessage().startsWith("model '" + SPEC + "' could not be resolved on TaskManager "), e.getMessage());
        assertTrue(e.getMessage().contains("(cache " + cache + ")"), e.getMessage());
        assertTrue(e.getMessage().contains("Offline mode"), e.getMessage());
        assertTrue(hub.requests().isEmpty(), "offline: no request");
    }

    @Test
    void aFileTheHubDoesNotHaveFailsWithTheSpecAndTheHubsAnswer() {
        String missing = "hf://test-owner/tiny/other.gguf";
        EngineSpec spec = spec(missing, new HubOverrides(tmp.toString(), hub.baseUrl().toString(), false));

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TaskManagerModelFile.locate(spec, Map.of()));

        assertTrue(e.getMessage().contains("model '" + missing + "' could not be resolved on TaskManager"), e.getMessage());
        assertTrue(e.getMessage().contains("has no file 'other.gguf'"), e.getMessage());
    }

    @Test
    void aLocalPathMustBeOnThisTaskManager() throws Exception {
        Path absent = tmp.resolve("models/absent.gguf");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TaskManagerModelFile.locate(spec(absent.toString(), HubOverrides.NONE), Map.of()));
        assertTrue(e.getMessage().startsWith("model file " + absent + " does not exist on TaskManager "), e.getMessage());

        Path present = Files.write(tmp.resolve("present.gguf"), CONTENT);
        assertEquals(present, TaskManagerModelFile.locate(spec(present.toString(), HubOverrides.NONE), Map.of()));
        assertTrue(hub.requests().isEmpty());
    }
}
